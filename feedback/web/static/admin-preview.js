// Live preview on the survey page: re-renders the widget (no network) as texts change.
(function () {
  "use strict";
  var form = document.getElementById("survey-form");
  var target = document.getElementById("preview");
  var picker = document.getElementById("preview-locale");
  var defaults = JSON.parse(document.getElementById("default-texts").textContent);
  if (!form || !target) return;

  function texts(locale) {
    var base = JSON.parse(JSON.stringify(defaults[locale] || defaults.en));
    var product = form.elements.product_name.value || "our product";
    form.querySelectorAll("[data-locale='" + locale + "']").forEach(function (input) {
      if (!input.value.trim()) return;
      var path = input.dataset.key.split(".");
      if (path.length === 2) base[path[0]][path[1]] = input.value; else base[path[0]] = input.value;
    });
    base.question = base.question.replace("{product}", product);
    return base;
  }

  function render() {
    if (typeof window.NPS !== "function") return;
    window.NPS("preview", {
      container: target,
      locale: picker.value,
      texts: texts(picker.value),
      theme: { accent: form.elements.accent.value, position: form.elements.position.value }
    });
  }

  window.NPS = window.NPS || function () { (window.NPS.q = window.NPS.q || []).push(arguments); };
  form.addEventListener("input", render);
  picker.addEventListener("change", render);
  render();
})();
