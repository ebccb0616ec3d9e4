/* The till's own behaviour on top of htmx. Loaded with `defer`, after htmx.

   A till answers out of order on a slow network or a loaded server; what the cashier sees must
   always be the answer to what she did last:
   - the panel shows the answer to the latest request made for it; an answer to an earlier one
     (a search still on its way when she opened a customer, a calculation for a bill she has since
     typed over) is dropped, and so is an answer for a part of the page that is gone;
   - a search that was still due for keys typed before she left the results (by opening a
     customer, registering, her shift...) is not made: she has moved on. */
(function () {
  "use strict";
  var panelRequests = 0;  // requests made for the whole panel so far
  var lastTyped = 0;      // when the search box last changed
  var leftResults = 0;    // when the cashier last asked the panel for something other than a search

  function panel() { return document.getElementById("panel"); }
  function inPanel(target) {
    var p = panel();
    return !!(p && target && (target === p || p.contains(target)));
  }
  function typedSearch(elt, event) {
    return elt && elt.id === "search" && event && event.type === "input";
  }

  document.addEventListener("input", function (e) {
    if (e.target && e.target.id === "id_q") { lastTyped = performance.now(); }
  }, true);

  document.addEventListener("htmx:confirm", function (e) {
    if (typedSearch(e.detail.elt, e.detail.triggeringEvent) && lastTyped < leftResults) {
      e.preventDefault();
    }
  });

  document.addEventListener("htmx:beforeRequest", function (e) {
    var d = e.detail;
    if (d.target === panel()) {
      panelRequests += 1;
      var cfg = d.requestConfig || {};
      if (!typedSearch(d.elt, cfg.triggeringEvent)) { leftResults = performance.now(); }
    }
    if (d.xhr) { d.xhr.tillPanelRequest = panelRequests; }
  });

  document.addEventListener("htmx:beforeSwap", function (e) {
    var d = e.detail;
    var stale = inPanel(d.target) && d.xhr && d.xhr.tillPanelRequest < panelRequests;
    if (stale || !document.body.contains(d.target)) { d.shouldSwap = false; }
  });

  // htmx does not swap failed responses: say so instead of leaving the screen silent.
  var box = document.getElementById("till-trouble");
  if (box) {
    var show = function (kind) {
      return function () { box.textContent = box.dataset[kind]; box.hidden = false; };
    };
    document.addEventListener("htmx:sendError", show("offline"));
    document.addEventListener("htmx:responseError", show("failed"));
    document.addEventListener("htmx:afterRequest", function (e) {
      if (e.detail.successful) { box.hidden = true; }
    });
  }
})();
