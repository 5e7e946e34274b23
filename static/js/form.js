// The generation form: offer only the sizes the chosen model accepts.
(function () {
  "use strict";
  const data = document.getElementById("sizes-by-model");
  const model = document.getElementById("id_model");
  const size = document.getElementById("id_size");
  if (!data || !model || !size) return;
  const sizesByModel = JSON.parse(data.textContent);
  const allOptions = Array.from(size.options).map((o) => o.value);

  function narrow() {
    const allowed = sizesByModel[model.value] || allOptions;
    const current = size.value;
    size.innerHTML = "";
    for (const value of allowed) {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = value === "auto" ? "auto (model decides)" : value.replace("x", " × ");
      size.appendChild(option);
    }
    size.value = allowed.includes(current) ? current : (allowed.includes("1024x1024") ? "1024x1024" : allowed[0]);
  }
  model.addEventListener("change", narrow);
  narrow();
})();
