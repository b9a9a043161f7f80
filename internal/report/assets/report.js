(function () {
  'use strict';
  var el = document.getElementById('report-data');
  var body = document.getElementById('det-body');
  if (!el || !body) { return; }
  var data = JSON.parse(el.textContent);
  var rows = data.rows || [];
  var rank = { critical: 0, high: 1, medium: 2, low: 3, informational: 4 };
  var trs = [];

  function text(tag, cls, s) {
    var n = document.createElement(tag);
    if (cls) { n.className = cls; }
    if (s !== undefined && s !== null) { n.textContent = String(s); }
    return n;
  }
  function fmtTime(t) {
    return t ? t.replace('T', ' ').replace(/\.\d+/, '').replace('Z', '') : '';
  }
  function levelOf(l) { return rank.hasOwnProperty(l) ? l : 'other'; }

  rows.forEach(function (r, i) {
    var tr = document.createElement('tr');
    tr.id = 'row-' + i;
    tr.appendChild(text('td', 'nowrap', fmtTime(r.time)));
    var lv = text('td');
    lv.appendChild(text('span', 'badge lv-' + levelOf(r.level), r.level || 'unknown'));
    if (r.count > 1) { lv.appendChild(text('div', 'sub', '×' + r.count)); }
    tr.appendChild(lv);
    tr.appendChild(text('td', '', r.computer));
    var rule = text('td');
    rule.appendChild(text('div', '', r.rule_title));
    rule.appendChild(text('div', 'by', 'by ' + (r.author || 'unknown author')));
    if (r.story >= 0) {
      var a = text('a', '', 'correlation story');
      a.href = '#story-' + r.story;
      rule.appendChild(a);
    }
    tr.appendChild(rule);
    var ev = text('td');
    ev.appendChild(text('div', '', r.channel));
    ev.appendChild(text('div', 'sub', 'ID ' + r.event_id + ' · rec ' + r.record_id));
    tr.appendChild(ev);
    tr.appendChild(text('td', '', r.user));
    var kf = text('td', 'kf');
    (r.fields || []).forEach(function (f) {
      var d = text('div');
      d.appendChild(text('b', '', f.name + ': '));
      d.appendChild(document.createTextNode(f.value));
      kf.appendChild(d);
    });
    kf.title = (r.fields || []).map(function (f) { return f.name + ': ' + f.value; }).join('\n') + '\nsource: ' + r.source;
    tr.appendChild(kf);
    var hay = [fmtTime(r.time), r.level, r.computer, r.rule_title, r.rule_id, r.author, r.channel, r.event_id,
      r.user, r.source].concat((r.fields || []).map(function (f) { return f.name + ' ' + f.value; })).join('\n').toLowerCase();
    trs.push({ tr: tr, r: r, i: i, hay: hay, level: levelOf(r.level) });
  });

  var keys = {
    time: function (x) { return x.r.time || ''; },
    level: function (x) { return rank.hasOwnProperty(x.level) ? rank[x.level] : 9; },
    computer: function (x) { return (x.r.computer || '').toLowerCase(); },
    rule: function (x) { return (x.r.rule_title || '').toLowerCase(); },
    event: function (x) { return (x.r.channel || '') + '\u0000' + ('0000000000' + x.r.event_id).slice(-10); },
    user: function (x) { return (x.r.user || '').toLowerCase(); }
  };
  var sortKey = '', sortDir = 1;
  var filter = document.getElementById('filter');
  var level = document.getElementById('level-filter');
  var shown = document.getElementById('shown');
  var noMatch = document.getElementById('no-match');

  function apply() {
    var q = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    var lv = level.value;
    var list = trs.filter(function (x) {
      if (lv && x.level !== lv) { return false; }
      for (var k = 0; k < q.length; k++) { if (x.hay.indexOf(q[k]) < 0) { return false; } }
      return true;
    });
    if (sortKey) {
      var f = keys[sortKey];
      list.sort(function (a, b) {
        var va = f(a), vb = f(b);
        return (va < vb ? -1 : va > vb ? 1 : a.i - b.i) * (va === vb ? 1 : sortDir);
      });
    }
    var frag = document.createDocumentFragment();
    list.forEach(function (x) { frag.appendChild(x.tr); });
    body.textContent = '';
    body.appendChild(frag);
    shown.textContent = 'showing ' + list.length.toLocaleString('en-US') + ' of ' + trs.length.toLocaleString('en-US') + ' rows';
    noMatch.hidden = list.length > 0;
  }

  Array.prototype.forEach.call(document.querySelectorAll('#det-table th.sortable'), function (th) {
    th.addEventListener('click', function () {
      var k = th.getAttribute('data-key');
      sortDir = sortKey === k ? -sortDir : 1;
      sortKey = k;
      Array.prototype.forEach.call(document.querySelectorAll('#det-table th'), function (o) { o.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', sortDir > 0 ? 'ascending' : 'descending');
      apply();
    });
  });
  filter.addEventListener('input', apply);
  level.addEventListener('change', apply);

  // A link from a story to its event clears the filters so the row is there.
  Array.prototype.forEach.call(document.querySelectorAll('a.rowlink'), function (a) {
    a.addEventListener('click', function () {
      if (filter.value || level.value) { filter.value = ''; level.value = ''; apply(); }
      var tr = document.getElementById('row-' + a.getAttribute('data-row'));
      if (tr) { tr.classList.add('flash'); setTimeout(function () { tr.classList.remove('flash'); }, 2000); }
    });
  });
  apply();
  document.body.setAttribute('data-rendered', String(trs.length));
})();
