/* Choso console: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  /* Slug of a shop or product name, as the server makes it (services::text::slugify). */
  function slugify(s) {
    var out = s.normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[đĐ]/g, "d").toLowerCase()
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
    if (out.length > 60) {
      var cut = out.slice(0, 60);
      out = (out[60] === "-" ? cut : cut.slice(0, Math.max(cut.lastIndexOf("-"), 1))).replace(/-+$/, "");
    }
    return out;
  }

  /* Name field → slug field and address preview, as the owner types. */
  document.querySelectorAll("[data-slug-source]").forEach(function (name) {
    var slug = document.getElementById(name.getAttribute("data-slug-source"));
    var preview = document.querySelectorAll("[data-slug-preview]");
    if (!slug) return;
    var touched = slug.value !== "" && slug.value !== slugify(name.value);
    function show() {
      var v = slug.value || slugify(name.value);
      preview.forEach(function (p) {
        var el = p.querySelector("strong");
        if (el) el.textContent = v || "…";
      });
    }
    name.addEventListener("input", function () {
      if (!touched) slug.value = slugify(name.value);
      show();
    });
    slug.addEventListener("input", function () { touched = slug.value !== ""; show(); });
    show();
  });

  /* Theme picker: the chosen radio's card is the one marked. */
  document.querySelectorAll("[data-theme-choice]").forEach(function (r) {
    r.addEventListener("change", function () {
      document.querySelectorAll(".theme-option").forEach(function (o) { o.classList.remove("chosen"); });
      r.closest(".theme-option").classList.add("chosen");
    });
  });

  /* Live order inbox: new orders arrive over server-sent events and are put on top. */
  var inbox = document.querySelector("[data-live-url]");
  if (inbox && window.EventSource) {
    var status = document.querySelector("[data-live-status]");
    var tbody = inbox.querySelector("tbody");
    var es = new EventSource(inbox.getAttribute("data-live-url"));
    es.addEventListener("open", function () { if (status) { status.dataset.state = "on"; status.textContent = status.dataset.on; } });
    es.addEventListener("error", function () { if (status) { status.dataset.state = "off"; status.textContent = status.dataset.off; } });
    es.addEventListener("order", function (ev) {
      var o;
      try { o = JSON.parse(ev.data); } catch (e) { return; }
      if (!tbody || document.getElementById("order-" + o.id)) return;
      var empty = inbox.querySelector("[data-empty]");
      if (empty) empty.remove();
      var tr = document.createElement("tr");
      tr.id = "order-" + o.id;
      tr.className = "fresh";
      var cells = [
        [o.number, o.url], [o.created], [o.customer], [o.total, null, "num"],
        [o.status_label, null, null, "badge"], [o.payment_label, null, null, "badge"]
      ];
      cells.forEach(function (c) {
        var td = document.createElement("td");
        if (c[2]) td.className = c[2];
        if (c[1]) {
          var a = document.createElement("a");
          a.href = c[1];
          a.textContent = c[0];
          td.appendChild(a);
          var b = document.createElement("span");
          b.className = "badge new";
          b.textContent = inbox.dataset.newLabel || "new";
          td.appendChild(document.createTextNode(" "));
          td.appendChild(b);
        } else if (c[3]) {
          var s = document.createElement("span");
          s.className = c[3];
          s.textContent = c[0];
          td.appendChild(s);
        } else {
          td.textContent = c[0];
        }
        tr.appendChild(td);
      });
      tbody.insertBefore(tr, tbody.firstChild);
      var count = document.querySelector("[data-new-count]");
      if (count) {
        var n = (parseInt(count.dataset.n || "0", 10) || 0) + 1;
        count.dataset.n = String(n);
        count.textContent = (count.dataset.template || "{n}").replace("{n}", n);
        count.hidden = false;
      }
    });
  }
})();
