/* caseflow: small progressive enhancements; every page works without this file. */
(function () {
  "use strict";
  document.documentElement.classList.add("has-js");
  document.addEventListener("DOMContentLoaded", function () {
    // Move keyboard and screen-reader focus to the list of form errors, or to a conflict.
    var alert = document.getElementById("error-summary") || document.getElementById("conflict");
    if (alert) {
      if (!alert.hasAttribute("tabindex")) { alert.setAttribute("tabindex", "-1"); }
      alert.focus();
    }
    // A print button on the printable history.
    Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  });
}());
