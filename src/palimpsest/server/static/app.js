// palimpsest web UI: keyboard navigation between changes (n = next, p = previous), across
// the pages of a long diff, and the confirmation of dangerous buttons (data-confirm).
// Everything works without JavaScript; this only adds shortcuts and the confirmations.
(function () {
  "use strict";
  function changes() { return Array.prototype.slice.call(document.querySelectorAll("article.change[id^='change-']")); }
  function current(list) {
    var hash = window.location.hash.slice(1);
    for (var i = 0; i < list.length; i++) { if (list[i].id === hash) { return i; } }
    return -1;
  }
  document.addEventListener("keydown", function (event) {
    var tag = (event.target && event.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key !== "n" && event.key !== "p") { return; }
    var list = changes();
    if (!list.length) { return; }
    var i = current(list);
    var link = i >= 0 ? list[i].querySelector(event.key === "n" ? "a.next" : "a.prev") : null;
    if (link && link.getAttribute("href").charAt(0) !== "#") { window.location.href = link.href; return; }
    i = event.key === "n" ? Math.min(i + 1, list.length - 1) : Math.max(i - 1, 0);
    window.location.hash = list[i].id;
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form && form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });
}());
