// The print view's button: asks the browser to print the page (A4, as the stylesheet lays it
// out). The page prints just as well with the browser's own print command.
(function () {
  "use strict";
  var button = document.querySelector("[data-print]");
  if (button) {
    button.addEventListener("click", function () {
      window.print();
    });
  }
})();
