// The chat simulator page: pretend people, their messages, and polling for the bot's replies.
// A file of its own so the Content-Security-Policy allows scripts from this site only.
(function () {
  const people = JSON.parse(localStorage.getItem("sim-people") || '["Ana (family)","Ben (citizen)"]');
  const logs = {};      // what each person sent, kept in this page as a phone would
  const seen = {};      // last reply sequence number shown per person
  let current = people[0];

  // A pretend phone without apps: its name ends in " (SMS)"; it talks as SMS does (text only, segments).
  function bySms(name) { return / \(SMS\)$/.test(name); }
  function save() { localStorage.setItem("sim-people", JSON.stringify(people)); }
  function renderPeople() {
    const box = document.getElementById("people");
    box.innerHTML = "";
    people.forEach(function (name) {
      const b = document.createElement("button");
      b.textContent = name;
      b.className = name === current ? "current" : "";
      b.onclick = function () { current = name; renderPeople(); renderLog(); };
      box.appendChild(b);
    });
    document.getElementById("title").textContent = "Homeward, chatting as " + current;
  }
  function entries(name) { return logs[name] || (logs[name] = []); }
  function renderLog() {
    const log = document.getElementById("log");
    log.innerHTML = "";
    entries(current).forEach(function (e) {
      const div = document.createElement("div");
      div.className = "bubble " + e.who;
      if (e.image) { const img = document.createElement("img"); img.src = e.image; img.alt = "sent photo"; div.appendChild(img); }
      div.appendChild(document.createTextNode(e.text));
      div.dataset.who = e.who;
      log.appendChild(div);
    });
    log.scrollTop = log.scrollHeight;
  }
  function add(name, entry) { entries(name).push(entry); if (name === current) renderLog(); }

  document.getElementById("new-person").onsubmit = function (ev) {
    ev.preventDefault();
    const typed = document.getElementById("new-name").value.trim();
    const name = typed && document.getElementById("new-sms").checked && !bySms(typed) ? typed + " (SMS)" : typed;
    if (name && people.indexOf(name) < 0) { people.push(name); save(); }
    if (name) { current = name; renderPeople(); renderLog(); }
    document.getElementById("new-name").value = "";
  };
  document.getElementById("share-location").onclick = function () {
    document.getElementById("location-form").classList.toggle("open");
  };
  document.getElementById("file").onchange = function () {
    const f = this.files[0];
    document.getElementById("attached").textContent = f ? f.name : "";
  };
  document.getElementById("composer").onsubmit = function (ev) {
    ev.preventDefault();
    const text = document.getElementById("text");
    const file = document.getElementById("file");
    const place = document.getElementById("location-form");
    const data = new FormData();
    data.append("user", current);
    if (bySms(current)) data.append("sms", "1");
    data.append("text", text.value);
    let shown = text.value, image = null;
    if (file.files[0]) {
      data.append("file", file.files[0]);
      image = file.files[0].type.indexOf("image/") === 0 ? URL.createObjectURL(file.files[0]) : null;
      if (!image) shown = "[" + file.files[0].name + "] " + shown;
    }
    if (place.classList.contains("open")) {
      ["latitude", "longitude", "address"].forEach(function (k) { data.append(k, document.getElementById(k).value); });
      shown = "📍 " + document.getElementById("address").value + (shown ? "\n" + shown : "");
      place.classList.remove("open");
    }
    if (!shown && !image) return;
    const csrf = document.querySelector("meta[name=csrf-token]");
    fetch("send", { method: "POST", body: data, headers: csrf ? { "X-CSRFToken": csrf.content } : {} })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) add(current, { who: "note", text: j.error || "not sent" }); }); })
      .catch(function () { add(current, { who: "note", text: "not sent: is Homeward running?" }); });
    add(current, { who: "me", text: shown, image: image });
    text.value = ""; file.value = ""; document.getElementById("attached").textContent = "";
  };
  function poll() {
    people.forEach(function (name) {
      fetch("messages?user=" + encodeURIComponent(name) + "&after=" + (seen[name] || 0) + (bySms(name) ? "&sms=1" : ""))
        .then(function (r) { return r.json(); })
        .then(function (j) {
          j.messages.forEach(function (m) {
            seen[name] = m.seq;
            add(name, { who: "bot", text: m.text + (m.segments ? "\n[SMS, " + m.segments + " segment" + (m.segments > 1 ? "s" : "") + "]" : "") });
          });
        })
        .catch(function () {});
    });
  }
  renderPeople(); renderLog();
  setInterval(poll, 700);
})();
