// The plan page: the editor, its problem marks, the charts, saving, and following the file on disk.
(function () {
  "use strict";
  const token = document.querySelector('meta[name="workbench-token"]').content;
  document.body.addEventListener("htmx:configRequest", (event) => { event.detail.headers["X-Workbench-Token"] = token; });

  function drawCharts(root) {
    if (!window.vegaEmbed) return;
    root.querySelectorAll(".chart").forEach((el) => {
      const script = el.querySelector("script.chart-spec");
      if (!script || el.dataset.drawn) return;
      el.dataset.drawn = "1";
      const spec = JSON.parse(script.textContent);
      const target = document.createElement("div");
      el.appendChild(target);
      vegaEmbed(target, spec, { actions: false, renderer: "svg", tooltip: { theme: "light" } })
        .then(() => { el.dataset.ready = "1"; })
        .catch((err) => { target.textContent = "The chart could not be drawn: " + err; });
    });
  }

  function fitFrames(root) {
    root.querySelectorAll("iframe.document-frame:not([data-fitted])").forEach((frame) => {
      frame.dataset.fitted = "1";
      const fit = () => {
        const doc = frame.contentDocument;
        if (doc && doc.documentElement) frame.style.height = Math.max(200, doc.documentElement.scrollHeight) + "px";
      };
      frame.addEventListener("load", fit);
      fit();
      const card = frame.closest("details");
      if (card) card.addEventListener("toggle", fit);
    });
    root.querySelectorAll("button.print:not([data-bound])").forEach((button) => {
      button.dataset.bound = "1";
      button.addEventListener("click", () => {
        const frame = button.closest(".document-card").querySelector("iframe");
        frame.contentWindow.focus();
        frame.contentWindow.print();
      });
    });
  }

  drawCharts(document);
  fitFrames(document);
  document.body.addEventListener("htmx:afterSettle", () => { drawCharts(document); fitFrames(document); });

  const form = document.getElementById("plan-form");
  if (!form) return;
  const source = document.getElementById("source");
  const saveButton = document.getElementById("save");
  const revertButton = document.getElementById("revert");
  const saveState = document.getElementById("save-state");
  const banner = document.getElementById("disk-banner");
  let version = form.dataset.version;
  let savedText = source.value;

  const editor = CodeMirror.fromTextArea(source, {
    mode: "yaml", lineNumbers: true, indentUnit: 2, tabSize: 2, lineWrapping: false,
    gutters: ["problem-gutter", "CodeMirror-linenumbers"],
    extraKeys: { Tab: (cm) => cm.replaceSelection("  "), "Ctrl-S": () => save(), "Cmd-S": () => save() },
  });
  window.workbenchEditor = editor;

  let marks = [];
  function showProblems() {
    editor.operation(() => {
      marks.forEach((m) => m.clear());
      marks = [];
      editor.clearGutter("problem-gutter");
      for (let n = 0; n < editor.lineCount(); n++) editor.removeLineClass(n, "background");
      const data = document.getElementById("problems-data");
      const problems = data ? JSON.parse(data.textContent) : [];
      problems.forEach((p) => {
        const line = Math.min(Math.max(p.line - 1, 0), editor.lineCount() - 1);
        editor.addLineClass(line, "background", "cm-problem-line " + p.severity);
        const dot = document.createElement("span");
        dot.className = "problem-dot " + p.severity;
        dot.textContent = "●";
        dot.title = p.message;
        editor.setGutterMarker(line, "problem-gutter", dot);
        const text = editor.getLine(line) || "";
        const from = Math.max(p.column - 1, 0);
        const to = p.end_column ? p.end_column - 1 : text.length;
        if (to > from) marks.push(editor.markText({ line, ch: from }, { line, ch: to }, { className: "cm-problem-mark" }));
        const widget = document.createElement("div");
        widget.className = "problem-widget " + p.severity;
        widget.dataset.line = p.line;
        widget.textContent = p.message;
        marks.push(editor.addLineWidget(line, widget, { coverGutter: false, noHScroll: true }));
      });
    });
  }

  function setState(state, text) {
    saveState.dataset.state = state;
    saveState.className = "save-state " + state;
    saveState.textContent = text;
    const dirty = editor.getValue() !== savedText;
    saveButton.disabled = !dirty;
    revertButton.disabled = !dirty;
  }

  let timer = null;
  function refresh() {
    htmx.trigger(form, "preview");
  }
  editor.on("change", () => {
    editor.save();  // the form posts the textarea
    const dirty = editor.getValue() !== savedText;
    setState(dirty ? "dirty" : "saved", dirty ? "Unsaved changes" : "Saved");
    clearTimeout(timer);
    timer = setTimeout(refresh, 450);
  });

  function save() {
    if (editor.getValue() === savedText) return;
    const body = new URLSearchParams({ text: editor.getValue(), version });
    fetch(form.dataset.saveUrl, { method: "POST", body, headers: { "X-Workbench-Token": token } })
      .then((response) => response.json().then((data) => ({ ok: response.ok, data })))
      .then(({ ok, data }) => {
        if (!ok) { setState("failed", data.error || "Not saved"); return; }
        version = data.version;
        savedText = body.get("text");
        setState("saved", "Saved");
        banner.hidden = true;
        refresh();
        htmx.trigger("#scenarios", "refresh");
      })
      .catch(() => setState("failed", "Not saved: the workbench is not running"));
  }
  saveButton.addEventListener("click", save);
  revertButton.addEventListener("click", () => { editor.setValue(savedText); });

  function loadFromDisk(data) {
    version = data.version;
    savedText = data.text;
    editor.setValue(data.text);
    setState("saved", "Saved");
    banner.hidden = true;
    htmx.trigger("#scenarios", "refresh");
  }
  let diskData = null;
  document.getElementById("load-disk").addEventListener("click", () => { if (diskData) loadFromDisk(diskData); });
  setInterval(() => {
    fetch(form.dataset.fileUrl).then((r) => (r.ok ? r.json() : null)).then((data) => {
      if (!data || data.version === version) return;
      if (editor.getValue() === savedText) loadFromDisk(data);
      else { diskData = data; banner.hidden = false; }
    }).catch(() => {});
  }, 1500);

  document.body.addEventListener("htmx:afterSettle", showProblems);
  document.body.addEventListener("click", (event) => {
    const jump = event.target.closest(".jump");
    if (!jump) return;
    event.preventDefault();
    const item = jump.closest(".problem");
    const line = Number(item.dataset.line) - 1;
    editor.focus();
    editor.setCursor({ line, ch: Math.max(Number(item.dataset.column) - 1, 0) });
    editor.scrollIntoView({ line, ch: 0 }, 120);
  });
  showProblems();
})();
