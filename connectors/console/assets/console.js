// The console's only script (CSP script-src 'self'; no eval, no inline handlers).
// Keeps relative times current, runs the live status stream (SSE) with its pause control,
// copies links (button[data-copy]) and draws each chart from the table beside it (uPlot). Everything works without it, as a snapshot.
(function () {
  'use strict';

  function duration(s) {
    s = Math.max(0, Math.round(s));
    if (s < 60) return s + ' s';
    var m = Math.floor(s / 60);
    if (m < 60) return m + ' min';
    var h = Math.floor(m / 60);
    if (h < 48) return m % 60 === 0 ? h + ' h' : h + ' h ' + (m % 60) + ' min';
    return Math.floor(h / 24) + ' d';
  }
  function relative(iso) {
    var diff = (Date.parse(iso) - Date.now()) / 1000;
    if (Math.abs(diff) < 1) return 'just now';
    return diff < 0 ? duration(-diff) + ' ago' : 'in ' + duration(diff);
  }
  function refreshRelative(root) {
    var els = (root || document).querySelectorAll('[data-rel]');
    for (var i = 0; i < els.length; i++) els[i].textContent = '(' + relative(els[i].getAttribute('data-rel')) + ')';
  }

  var announcer;
  function announce(text) {
    if (!announcer) announcer = document.getElementById('announcer');
    if (announcer) announcer.textContent = text;
  }

  var charts = {};
  function cssVar(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name);
    return v && v.trim() ? v.trim() : fallback;
  }
  function drawCharts() {
    if (typeof window.uPlot !== 'function') return;
    var boxes = document.querySelectorAll('[data-chart]');
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i];
      var kind = box.getAttribute('data-chart');
      var table = document.getElementById(box.getAttribute('data-table'));
      if (charts[kind]) {
        charts[kind].destroy();
        delete charts[kind];
      }
      if (!table) continue;
      var rows = table.querySelectorAll('tbody tr[data-t]');
      var cols = kind === 'outcomes' ? 4 : 2;
      var data = [[]];
      for (var c = 0; c < cols; c++) data.push([]);
      for (var r = 0; r < rows.length; r++) {
        data[0].push(Number(rows[r].getAttribute('data-t')));
        var cells = rows[r].querySelectorAll('td');
        for (var k = 0; k < cols; k++) data[k + 1].push(Number(cells[k] ? cells[k].textContent : 0));
      }
      var text = cssVar('--fg', '#222');
      var grid = cssVar('--grid', '#ccc');
      var names = kind === 'outcomes' ? ['synced', 'conflict', 'rejected', 'failed'] : ['p50', 'p95'];
      var colours =
        kind === 'outcomes'
          ? [cssVar('--ok', 'green'), cssVar('--warn', 'orange'), cssVar('--bad', 'red'), cssVar('--fail', 'purple')]
          : [cssVar('--accent', 'blue'), cssVar('--warn', 'orange')];
      var series = [{}];
      for (var s = 0; s < names.length; s++)
        series.push({ label: names[s], stroke: colours[s], width: 2, points: { show: true } });
      var width = Math.max(240, box.clientWidth || 480);
      charts[kind] = new window.uPlot(
        {
          width: width,
          height: 200,
          series: series,
          axes: [
            { stroke: text, grid: { stroke: grid } },
            { stroke: text, grid: { stroke: grid } },
          ],
          legend: { show: true },
        },
        data,
        box,
      );
    }
  }

  function startLive() {
    var bar = document.getElementById('livebar');
    var target = document.getElementById('status-live');
    if (!bar || !target || typeof EventSource !== 'function') return;
    var url = bar.getAttribute('data-live-url');
    var state = document.getElementById('live-state');
    var age = document.getElementById('live-age');
    var pause = document.getElementById('live-pause');
    var controls = bar.querySelector('.live-controls');
    if (controls) controls.hidden = false;
    var source = null;
    var last = Date.now();
    var paused = false;
    var lastSummary = null;

    function summary() {
      var live = target.querySelector('.status-live');
      if (!live) return '';
      return live.getAttribute('data-overall') + '/' + live.getAttribute('data-pems-down');
    }
    function describe() {
      var live = target.querySelector('.status-live');
      if (!live) return '';
      var down = Number(live.getAttribute('data-pems-down'));
      var words = { no_edits: 'no edits yet', on_time: 'on time', late: 'late', stalled: 'stalled' };
      return (
        'Status ' +
        (words[live.getAttribute('data-overall')] || '') +
        (down > 0 ? '; PEMS unreachable' : '; PEMS reachable')
      );
    }
    lastSummary = summary();

    function connect() {
      source = new EventSource(url);
      state.textContent = 'connecting…';
      source.addEventListener('open', function () {
        state.textContent = 'live';
      });
      source.addEventListener('status', function (e) {
        target.innerHTML = e.data;
        last = Date.now();
        state.textContent = 'live';
        refreshRelative(target);
        drawCharts();
        var now = summary();
        if (now !== lastSummary) {
          lastSummary = now;
          announce(describe());
        }
      });
      source.addEventListener('signed-out', function () {
        source.close();
        state.textContent = 'signed out';
        announce('Your console session has ended: sign in again.');
      });
      source.addEventListener('error', function () {
        if (!paused) state.textContent = 'reconnecting…';
      });
    }
    function tickAge() {
      age.textContent = duration((Date.now() - last) / 1000) + ' ago';
    }
    if (pause) {
      pause.addEventListener('click', function () {
        paused = !paused;
        pause.setAttribute('aria-pressed', paused ? 'true' : 'false');
        pause.textContent = paused ? 'Resume' : 'Pause';
        if (paused) {
          if (source) source.close();
          source = null;
          state.textContent = 'paused';
          announce('Live updates paused');
        } else {
          connect();
          announce('Live updates resumed');
        }
      });
    }
    connect();
    tickAge();
    setInterval(tickAge, 1000);
  }

  // Queues (table[data-queue]): j / k move the focus between rows' links, Enter opens (the link's own behaviour).
  function queueKeys() {
    var queue = document.querySelector('[data-queue]');
    if (!queue) return;
    document.addEventListener('keydown', function (e) {
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      var t = e.target;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) return;
      if (e.key !== 'j' && e.key !== 'k') return;
      var links = Array.prototype.slice.call(queue.querySelectorAll('a.row-link'));
      if (links.length === 0) return;
      var i = links.indexOf(document.activeElement);
      var next = e.key === 'j' ? (i < 0 ? 0 : Math.min(links.length - 1, i + 1)) : i < 0 ? 0 : Math.max(0, i - 1);
      links[next].focus();
      e.preventDefault();
    });
  }

  // The unread notification count in the navigation, live (one small stream per page).
  function unreadLive() {
    var count = document.getElementById('unread-count');
    if (!count || typeof EventSource !== 'function' || document.body.getAttribute('data-signed-in') !== 'true') return;
    var before = null;
    var m = /\((\d+) unread\)/.exec(count.textContent || '');
    if (m) before = Number(m[1]);
    var source = new EventSource('/console/notifications/live');
    source.addEventListener('unread', function (e) {
      var n = Number(e.data);
      count.textContent = '(' + n + ' unread)';
      if (before !== null && n > before)
        announce(n - before === 1 ? '1 new notification' : n - before + ' new notifications');
      before = n;
    });
    source.addEventListener('signed-out', function () {
      source.close();
    });
  }

  // "Copy link" buttons (button[data-copy] names the field whose value it copies): a real
  // button, so Enter and Space work; the result is said in the live region and on the button.
  function copyButtons() {
    var buttons = document.querySelectorAll('button[data-copy]');
    for (var i = 0; i < buttons.length; i++) {
      (function (button) {
        var field = document.getElementById(button.getAttribute('data-copy'));
        if (!field) return;
        var label = button.textContent;
        button.hidden = false;
        button.addEventListener('click', function () {
          function done(ok) {
            button.textContent = ok ? 'Copied' : 'Copy failed: select the link and copy it';
            announce(ok ? 'Link copied to the clipboard' : 'The link could not be copied: select it and copy it');
            setTimeout(function () {
              button.textContent = label;
            }, 4000);
          }
          function fallback() {
            field.focus();
            field.select();
            var ok = false;
            try {
              ok = document.execCommand('copy');
            } catch (e) {
              ok = false;
            }
            button.focus();
            done(ok);
          }
          if (navigator.clipboard && window.isSecureContext) {
            navigator.clipboard.writeText(field.value).then(function () {
              done(true);
            }, fallback);
          } else fallback();
        });
      })(buttons[i]);
    }
  }

  document.addEventListener('DOMContentLoaded', function () {
    copyButtons();
    queueKeys();
    unreadLive();
    refreshRelative(document);
    setInterval(function () {
      refreshRelative(document);
    }, 10000);
    drawCharts();
    startLive();
  });
})();
