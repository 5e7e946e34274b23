"""The child process that draws one SVG: run by :func:`novisurf.imaging.render_svg`, never
imported by the site.

resvg holds the interpreter lock while it draws, and a small document can ask for a great deal
of drawing; here it can only use up its own CPU-time and memory limits, set before anything
is parsed. Reads the render-safe SVG on stdin, writes the PNG on stdout; argv: the folder
resvg_py is installed in (the child starts without site processing), width, height, CPU
seconds, memory bytes.
"""

import resource
import sys


def main() -> int:
    sys.path.insert(0, sys.argv[1])
    width, height, cpu_seconds, memory = (int(value) for value in sys.argv[2:6])
    # SIGXCPU at the soft limit ends the process; the hard limit one second later is the fence.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    import resvg_py

    svg = sys.stdin.buffer.read().decode("utf-8")
    try:
        png = resvg_py.svg_to_bytes(
            svg_string=svg,
            width=width,
            height=height,
            dpi=96.0,  # CSS units (in, mm, pt) as a browser sizes them
            # An SVG cannot name a font file; system fonts are only read for <text>.
            skip_system_fonts=False,
        )
    except (ValueError, UnicodeDecodeError) as exc:
        sys.stderr.write(str(exc)[:500])
        return 3
    sys.stdout.buffer.write(bytes(png))
    return 0


if __name__ == "__main__":
    sys.exit(main())
