// The header's menus are <details> elements and work without this file. It only adds
// what people expect of a menu: a click elsewhere or Escape closes it, and opening one
// closes the others.
(function () {
  "use strict";
  var selector = "details.dropdown, details.nav-menu";

  function closeAll(except) {
    document.querySelectorAll(selector + "[open]").forEach(function (menu) {
      if (menu !== except && !menu.contains(except)) {
        menu.removeAttribute("open");
      }
    });
  }

  document.addEventListener("click", function (event) {
    var inside = event.target.closest ? event.target.closest(selector) : null;
    closeAll(inside);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    var open = document.querySelector(selector + "[open]");
    if (open) {
      closeAll(null);
      var summary = open.querySelector("summary");
      if (summary) {
        summary.focus();
      }
    }
  });
})();

// An error summary takes the focus when the page opens, so a screen reader reads it first
// (GOV.UK's pattern).
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var summary = document.querySelector(".error-summary[data-autofocus]");
  if (summary) {
    summary.focus();
  }
});
