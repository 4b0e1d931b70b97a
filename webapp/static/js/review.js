/* 提法卡 review session: fetch the next card, reveal, grade 0–5, undo. No inline script (CSP 'self'). */
(function () {
  "use strict";

  var root = document.getElementById("review");
  if (!root) { return; }
  var urls = {
    next: root.dataset.nextUrl,
    grade: root.dataset.gradeUrl.replace(/0$/, ""),
    undo: root.dataset.undoUrl,
    summary: root.dataset.summaryUrl
  };
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var $ = function (id) { return document.getElementById(id); };

  var card = null;       // the card on screen (API payload)
  var revealed = false;
  var busy = false;      // a request is in flight: ignore further grades/undos
  var shownAt = 0;
  var doneCount = 0;     // grades given in this session (undo takes one back)
  var finished = false;

  function show(id, on) { $(id).classList.toggle("hidden", !on); }

  function setError(message) {
    $("error").textContent = message || "";
    show("error", !!message);
  }

  function request(method, url, body) {
    var opts = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (method !== "GET") {
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRFToken"] = csrf;
      opts.body = JSON.stringify(body || {});
    }
    return fetch(url, opts).then(function (resp) {
      if (resp.status === 204) { return { status: 204, data: null }; }
      return resp.json().then(function (data) { return { status: resp.status, data: data }; },
        function () { return { status: resp.status, data: { message: "服务器返回了无法识别的内容，请刷新页面。" } }; });
    });
  }

  // Network errors are retried with the same one-time token: the server returns the first result.
  function withRetry(make, tries) {
    return make().catch(function (err) {
      if (tries <= 1) { throw err; }
      return new Promise(function (resolve) { setTimeout(resolve, 600); })
        .then(function () { return withRetry(make, tries - 1); });
    });
  }

  function updateCounts(counts) {
    $("count-new").textContent = counts.new;
    $("count-learning").textContent = counts.learning;
    $("count-review").textContent = counts.review;
    var total = doneCount + counts.left;
    $("progress").max = Math.max(total, 1);
    $("progress").value = doneCount;
    $("progress").title = "已完成 " + doneCount + " / " + total;
  }

  function render(payload) {
    card = payload;
    revealed = false;
    shownAt = Date.now();
    finished = false;
    setError("");
    show("loading", false);
    show("done", false);
    $("card").dataset.cardId = String(payload.card_id);
    $("deck-title").textContent = payload.deck.title;
    $("deck-week").textContent = payload.deck.week ? "第 " + payload.deck.week + " 周" : "";
    $("prompt").innerHTML = payload.prompt_html;  // server-rendered, HTML-escaped cloze
    $("answer-html").innerHTML = payload.answer_html;
    $("extra").textContent = payload.extra || "";
    $("list-hint").textContent = payload.items > 1 ? "这一空共 " + payload.items + " 项，请全部回忆。" : "";
    show("list-hint", payload.items > 1);
    show("card", true);
    show("prompt", true);
    show("answer", false);
    show("reveal-row", true);
    show("grades", false);
    show("suggest", false);
    clearSuggestion();
    var typing = $("type-mode").checked;
    show("typing", typing);
    $("typed").value = "";
    $("typed").readOnly = false;
    show("diff", false);
    updateCounts(payload.counts);
    if (typing) { $("typed").focus(); } else { $("reveal").focus(); }
  }

  function finish() {
    card = null;
    finished = true;
    show("card", false);
    show("reveal-row", false);
    show("grades", false);
    show("suggest", false);
    show("loading", false);
    updateCounts({ new: 0, learning: 0, review: 0, left: 0 });
    request("GET", urls.summary).then(function (r) {
      var s = r.data || {};
      $("sum-reviewed").textContent = s.reviewed;
      $("sum-correct").textContent = s.correct;
      $("sum-time").textContent = Math.max(0, Math.round((s.ms || 0) / 60000)) + " 分钟";
      $("sum-tomorrow").textContent = s.due_tomorrow;
      $("sum-streak").textContent = s.streak;
      show("done", true);
    });
  }

  function loadNext() {
    return withRetry(function () { return request("GET", urls.next); }, 3).then(function (r) {
      if (r.status === 204) { finish(); return; }
      if (r.status !== 200) { setError(r.data.message); return; }
      render(r.data);
    }, function () { setError("网络连接中断，请检查网络后刷新页面。"); });
  }

  function reveal() {
    if (!card || revealed) { return; }
    revealed = true;
    show("answer", true);
    show("prompt", false);
    show("reveal-row", false);
    show("grades", true);
    if ($("type-mode").checked) {
      $("typed").readOnly = true;
      $("typed").blur();
      compareTyped();
    }
    // Focus the card, not a button: a second Enter must not grade by accident.
    $("card").focus();
  }

  function grade(quality) {
    if (!card || !revealed || busy) { return; }
    busy = true;
    var body = { quality: quality, token: card.token, ms: Date.now() - shownAt };
    var url = urls.grade + card.card_id;
    withRetry(function () { return request("POST", url, body); }, 3).then(function (r) {
      busy = false;
      if (r.status === 200) {
        doneCount += 1;
        $("undo").disabled = false;
        return loadNext();
      }
      setError(r.data.message);
      if (r.status === 409 || r.status === 404) { return loadNext(); }
    }, function () {
      busy = false;
      setError("网络连接中断，评分未能确认。请检查网络后再点一次评分（不会重复计分）。");
    });
  }

  function undo() {
    if (busy || $("undo").disabled) { return; }
    busy = true;
    request("POST", urls.undo).then(function (r) {
      busy = false;
      if (r.status === 200) {
        doneCount = Math.max(0, doneCount - 1);
        render(r.data);
        return;
      }
      if (r.data && r.data.code === "nothing_to_undo") { $("undo").disabled = true; }
      setError(r.data.message);
    }, function () {
      busy = false;
      setError("网络连接中断，撤销未完成。请稍后重试。");
    });
  }

  // -- typed answers: character-level comparison (longest common subsequence) ----------------------
  function normalise(text) { return (text || "").replace(/\s+/g, ""); }

  function lcsMarks(expected, typed) {
    var n = expected.length, m = typed.length, i, j;
    var table = [];
    for (i = 0; i <= n; i++) { table.push(new Array(m + 1).fill(0)); }
    for (i = n - 1; i >= 0; i--) {
      for (j = m - 1; j >= 0; j--) {
        table[i][j] = expected[i] === typed[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
      }
    }
    var out = [];
    i = 0; j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && expected[i] === typed[j]) { out.push(["ok", expected[i]]); i++; j++; }
      else if (j < m && (i >= n || table[i][j + 1] >= table[i + 1][j])) { out.push(["extra", typed[j]]); j++; }
      else { out.push(["miss", expected[i]]); i++; }
    }
    return { marks: out, matched: table[0][0] };
  }

  function clearSuggestion() {
    Array.prototype.forEach.call(document.querySelectorAll(".grade.suggested"), function (b) {
      b.classList.remove("suggested");
    });
  }

  function compareTyped() {
    var expected = normalise(card.hidden), typed = normalise($("typed").value);
    var result = lcsMarks(expected, typed);
    var diff = $("diff");
    diff.textContent = "";
    result.marks.forEach(function (mark) {
      var span = document.createElement("span");
      span.className = "d-" + mark[0];
      span.textContent = mark[1];
      diff.appendChild(span);
    });
    show("diff", true);
    var extra = typed.length - result.matched;
    var score = expected.length ? (result.matched - extra / 2) / expected.length : 0;
    var suggested = !typed.length ? 0 : score >= 1 ? 5 : score >= 0.9 ? 4 : score >= 0.6 ? 3 : score >= 0.3 ? 2 : 1;
    clearSuggestion();
    var button = document.querySelector('.grade[data-quality="' + suggested + '"]');
    if (button) { button.classList.add("suggested"); }
    $("suggest").textContent = "逐字比较：对了 " + result.matched + " / " + expected.length + " 字，建议评分 " +
      suggested + "，由您决定。";
    show("suggest", true);
  }

  // -- input -------------------------------------------------------------------------------------
  $("reveal").addEventListener("click", reveal);
  $("prompt").addEventListener("click", reveal);
  $("undo").addEventListener("click", undo);
  Array.prototype.forEach.call(document.querySelectorAll(".grade"), function (button) {
    button.addEventListener("click", function () { grade(Number(button.dataset.quality)); });
  });
  $("type-mode").addEventListener("change", function () {
    if (card && !revealed) {
      show("typing", $("type-mode").checked);
      if ($("type-mode").checked) { $("typed").focus(); }
    }
  });

  document.addEventListener("keydown", function (event) {
    var inInput = event.target === $("typed") && !$("typed").readOnly;
    if ((event.ctrlKey || event.metaKey) && !event.altKey && (event.key === "z" || event.key === "Z")) {
      if (inInput) { return; }
      event.preventDefault();
      undo();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "Enter" || (event.key === " " && !inInput)) {
      if (card && !revealed) {
        event.preventDefault();
        reveal();
      } else if (event.target.tagName !== "BUTTON") {
        event.preventDefault();
      }
      return;
    }
    if (inInput || finished) { return; }
    if (/^[0-5]$/.test(event.key) && revealed) {
      event.preventDefault();
      grade(Number(event.key));
    }
  });

  loadNext();
}());
