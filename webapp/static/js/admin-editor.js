// Deck editor: live card preview of cloze text, "wrap selection in a cloze", add a note from source text.
(function () {
  "use strict";
  var editor = document.querySelector(".editor");
  if (!editor) { return; }
  var previewUrl = editor.getAttribute("data-preview-url");
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  function showCards(target, data) {
    clear(target);
    target.classList.remove("error");
    if (data.message) {
      target.classList.add("error");
      target.textContent = data.message;
      return;
    }
    data.cards.forEach(function (card) {
      var row = document.createElement("div");
      row.className = "preview-card";
      var label = document.createElement("span");
      label.className = "preview-n";
      label.textContent = "卡片 " + card.n;
      var front = document.createElement("div");
      front.className = "preview-front";
      front.innerHTML = card.prompt; // HTML escaped by the server (cards.cloze)
      var back = document.createElement("div");
      back.className = "preview-back";
      back.innerHTML = card.answer;
      row.appendChild(label); row.appendChild(front); row.appendChild(back);
      target.appendChild(row);
    });
  }

  var timers = {};
  function preview(textarea) {
    var target = document.getElementById(textarea.getAttribute("data-preview-target"));
    if (!target) { return; }
    clearTimeout(timers[textarea.id]);
    timers[textarea.id] = setTimeout(function () {
      fetch(previewUrl, {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json"},
        body: JSON.stringify({text: textarea.value})
      }).then(function (r) { return r.json(); }).then(function (data) { showCards(target, data); })
        .catch(function () { target.textContent = "预览暂时不可用。"; });
    }, 250);
  }

  editor.addEventListener("input", function (e) {
    if (e.target.classList && e.target.classList.contains("note-text")) { preview(e.target); }
  });
  editor.addEventListener("focusin", function (e) {
    if (e.target.classList && e.target.classList.contains("note-text")) { preview(e.target); }
  });

  function nextNumber(text) {
    var max = 0, re = /\{\{c(\d+)::/g, m;
    while ((m = re.exec(text)) !== null) { max = Math.max(max, parseInt(m[1], 10)); }
    return max + 1;
  }

  editor.addEventListener("click", function (e) {
    var button = e.target.closest ? e.target.closest(".cloze-wrap") : null;
    if (!button) { return; }
    var ta = document.getElementById(button.getAttribute("data-textarea"));
    var s = ta.selectionStart, t = ta.selectionEnd;
    if (s === t) { ta.focus(); return; }
    var v = ta.value, n = nextNumber(v);
    ta.value = v.slice(0, s) + "{{c" + n + "::" + v.slice(s, t) + "}}" + v.slice(t);
    ta.focus();
    preview(ta);
  });

  // Selecting text in the source fills the add-note form (one paragraph at a time).
  var source = document.getElementById("source");
  var form = document.getElementById("add-note-form");
  function onSelect() {
    var sel = window.getSelection();
    if (!sel || sel.isCollapsed || sel.rangeCount === 0) { return; }
    var range = sel.getRangeAt(0);
    var startP = range.startContainer.parentElement ? range.startContainer.parentElement.closest(".source-p") : null;
    var endP = range.endContainer.parentElement ? range.endContainer.parentElement.closest(".source-p") : null;
    if (!startP || startP !== endP || !source.contains(startP)) { return; }
    var span = sel.toString();
    if (span.trim().length < 2) { return; }
    document.getElementById("add-paragraph").value = startP.getAttribute("data-p");
    document.getElementById("add-offset").value = String(range.startOffset);
    document.getElementById("add-span").value = span;
    var ta = document.getElementById("add-text");
    ta.value = span;
    form.classList.remove("hidden");
    preview(ta);
  }
  if (source && form) {
    source.addEventListener("mouseup", onSelect);
    source.addEventListener("touchend", function () { setTimeout(onSelect, 50); });
    source.addEventListener("keyup", onSelect);
  }
})();
