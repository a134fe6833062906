// The operator console. Plain DOM, no framework, no CDN; data only ever goes into the page as text.
'use strict';

const keyStore = 'koogallery-operator-key';
const $ = (id) => document.getElementById(id);

function headers() {
  // X-KooGallery-Console: a header another site's form or link cannot send, which the app requires on changes.
  const key = sessionStorage.getItem(keyStore);
  return key ? { 'X-KooGallery-Console': '1', 'X-KooGallery-Operator-Key': key } : { 'X-KooGallery-Console': '1' };
}

async function api(path, method = 'GET') {
  const response = await fetch('/api/ops/console/' + path, { method, headers: headers(), credentials: 'same-origin' });
  if (response.status === 401) {
    sessionStorage.removeItem(keyStore);
    showSignIn('Not signed in as an operator.');
    throw new Error('unauthorised');
  }
  const body = await response.json().catch(() => ({}));
  return { ok: response.ok, status: response.status, body };
}

function el(tag, text, attributes) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  return node;
}

function row(cells) {
  const tr = el('tr');
  for (const cell of cells) {
    const td = el('td');
    if (cell instanceof Node) td.append(cell); else td.textContent = cell ?? '';
    tr.append(td);
  }
  return tr;
}

function when(value) {
  return value ? new Date(value).toLocaleString() : '';
}

function status(text) {
  $('status').textContent = text;
}

function show(section) {
  for (const id of ['signin', 'overview', 'find']) $(id).hidden = id !== section;
  for (const id of ['overview', 'find']) $('nav-' + id).toggleAttribute('aria-current', id === section);
}

function showSignIn(message) {
  show('signin');
  $('signin-error').textContent = message || '';
  $('operator-key').focus();
}

function confirmAction(text) {
  const dialog = $('confirm');
  $('confirm-text').textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.returnValue = 'cancel';
    dialog.showModal();
    $('confirm-ok').focus();
  });
}

function codeClass(code) {
  if (code === '000000') return 'sent';
  if (code === '000004') return 'pending';
  return 'rejected';
}

function callbacksChart(hours) {
  // Per hour, stacked by result code: success, still provisioning, failures (any other code).
  return stackedChart(hours.map((h) => {
    const parts = { hour: h.hour, sent: 0, pending: 0, rejected: 0 };
    for (const [code, count] of Object.entries(h.codes)) parts[codeClass(code)] += count;
    return parts;
  }), 'Callbacks per hour (UTC): 000000, 000004, failures', { sent: 'answered 000000', pending: 'answered 000004', rejected: 'failed' });
}

function usageChart(hours) {
  return stackedChart(hours, 'Usage rows per hour (UTC): sent, pending, rejected', { sent: 'sent', pending: 'pending', rejected: 'rejected' });
}

function stackedChart(hours, caption, names) {
  // Stacked bars per hour. Plain SVG; the numbers are also in the text and tables beside it.
  const width = 480, height = 120, gap = 2, bar = width / hours.length - gap;
  const max = Math.max(1, ...hours.map((h) => h.sent + h.pending + h.rejected));
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height + 14}`);
  svg.setAttribute('role', 'img');
  const title = document.createElementNS(ns, 'title');
  title.textContent = caption;
  svg.append(title);
  hours.forEach((h, i) => {
    let y = height;
    for (const [kind, value] of [['sent', h.sent], ['pending', h.pending], ['rejected', h.rejected]]) {
      if (!value) continue;
      const size = (value / max) * height;
      y -= size;
      const rect = document.createElementNS(ns, 'rect');
      rect.setAttribute('x', String(i * (bar + gap)));
      rect.setAttribute('y', String(y));
      rect.setAttribute('width', String(bar));
      rect.setAttribute('height', String(size));
      rect.setAttribute('class', kind);
      const tip = document.createElementNS(ns, 'title');
      tip.textContent = `${h.hour.slice(8, 10)}:00 UTC — ${value} ${names[kind]}`;
      rect.append(tip);
      svg.append(rect);
    }
    if (i % 6 === 0) {
      const label = document.createElementNS(ns, 'text');
      label.setAttribute('x', String(i * (bar + gap)));
      label.setAttribute('y', String(height + 12));
      label.textContent = h.hour.slice(8, 10) + ':00';
      svg.append(label);
    }
  });
  return svg;
}

async function redrive(instanceId, orderId) {
  if (!(await confirmAction(`Re-drive instance ${instanceId} (order ${orderId})?`))) return;
  const { body } = await api(`instances/${encodeURIComponent(instanceId)}/redrive`, 'POST');
  status(`Instance ${instanceId}: ${body.message || body.error}`);
  await loadOverview();
}

// The last dial test of the production address, its cases, and one mark per day of the last 7.
function dialCard(d) {
  const last = d.last;
  $('dial-card').classList.toggle('alarm', Boolean(last) && !last.passed);
  $('dial-last').textContent = last
    ? `${last.passed ? 'Passed' : 'FAILED'} at ${when(last.startedAt)}${last.passed ? '' : ' — ' + last.summary}`
    : 'No dial test has run: set DialTest__Url to the production address registered with KooGallery.';
  $('dial-days').replaceChildren(...d.days.map((day) => {
    const verdict = day.runs === 0 ? 'no run' : day.failed > 0 ? `${day.failed} of ${day.runs} failed` : `${day.runs} passed`;
    return el('li', `${day.day.slice(5)}: ${verdict}`, {
      class: day.runs === 0 ? 'none' : day.failed > 0 ? 'bad' : 'good',
      title: day.lastFailure ? `${day.day}: ${verdict}; last failure: ${day.lastFailure}` : `${day.day}: ${verdict}`,
    });
  }));
  $('dial-cases').tBodies[0].replaceChildren(...(last ? last.cases : []).map((c) =>
    row([c.case, c.reason ? `${c.outcome}: ${c.reason}` : c.outcome, Math.round(c.elapsedMs)])));
}

async function loadOverview() {
  const { body } = await api('overview');
  const o = body.overview;
  $('who').textContent = 'Signed in as ' + body.signedInAs;
  // A load that finishes after the operator moved on to Find must not pull the page back.
  if (location.hash !== '#find') show('overview');

  $('failed-count').textContent = o.failedOrders.count;
  $('failed-threshold').textContent = o.failedOrders.threshold;
  $('failed-month').textContent = `${o.failedOrders.month} (KooGallery time); debug orders not counted`;
  $('failed-card').classList.toggle('alarm', o.failedOrders.count >= o.failedOrders.threshold);

  dialCard(o.dialTest);
  $('login-addresses').tBodies[0].replaceChildren(...body.loginAddresses.map((a) => row([a.application, el('code', a.loginAddress), a.tenants])));

  $('callbacks-total').textContent = o.callbacks.total;
  $('callbacks-chart').replaceChildren(callbacksChart(o.callbacks.hours));
  $('callbacks').tBodies[0].replaceChildren(...o.callbacks.byActivity.map((c) => row([c.activity, c.code, c.count])));

  const states = $('states').tBodies[0];
  states.replaceChildren(...o.instances.map((s) => row([s.state, s.production, s.debug])));

  $('usage-sent').textContent = o.usage.sent;
  $('usage-pending').textContent = o.usage.pending;
  $('usage-rejected').textContent = o.usage.refusedCount;
  $('usage-parked').textContent = o.usage.parked.length;
  $('usage-chart').replaceChildren(usageChart(o.usage.hours));

  $('failed-orders').tBodies[0].replaceChildren(...o.failedOrders.orders.map((f) => {
    const link = el('a', f.orderId, { href: '#find' });
    link.addEventListener('click', () => find(f.orderId));
    return row([link, f.instanceId, f.activity, `${f.resultCode}${f.elapsedMs > 5000 ? ' (late)' : ''}${f.isTest ? ' debug' : ''}`, when(f.at)]);
  }));

  $('failed-instances').tBodies[0].replaceChildren(...o.failedInstances.map((i) => {
    const button = el('button', 'Re-drive', { type: 'button', 'aria-label': `Re-drive instance ${i.instanceId}` });
    button.addEventListener('click', () => redrive(i.instanceId, i.orderId));
    return row([i.instanceId, i.orderId, i.failedWork, i.failureReason, when(i.failedAt), button]);
  }));
  $('redrive-all').disabled = o.failedInstances.length === 0;

  $('refused').tBodies[0].replaceChildren(...o.usage.refused.map((r) => {
    const button = el('button', 'Re-drive', { type: 'button', 'aria-label': `Re-drive refused usage of ${r.instanceId} for ${r.periodStart}` });
    button.addEventListener('click', () => redriveRefused(r.id, `refused usage of ${r.instanceId} for ${when(r.periodStart)} (value ${r.usageValue})`));
    return row([r.instanceId, when(r.periodStart), r.usageValue, `${r.resultCode} ${r.resultMsg ?? ''}`, when(r.rejectedAt), button]);
  }));
  $('redrive-refused-all').disabled = o.usage.refusedCount === 0;

  $('parked').tBodies[0].replaceChildren(...o.usage.parked.map((p) => {
    const button = el('button', 'Re-drive', { type: 'button', 'aria-label': `Re-drive parked batch ${p.messageId}` });
    button.addEventListener('click', async () => {
      if (!(await confirmAction(`Re-drive parked usage batch ${p.messageId}?`))) return;
      const { body: result } = await api(`usage/parked/${encodeURIComponent(p.id)}/redrive`, 'POST');
      status(result.redriven ? `Batch ${p.messageId} taken: ${result.accepted} records accepted.` : `Batch ${p.messageId} still parked: ${result.error}`);
      await loadOverview();
    });
    return row([p.messageId, p.reason, when(p.parkedAt), button]);
  }));
}

async function redriveRefused(id, what) {
  if (!(await confirmAction(`Send ${what} to KooGallery again, as it was (same metering_sn)?`))) return;
  const { ok, body } = await api('usage/rejected/redrive' + (id ? '?id=' + encodeURIComponent(id) : ''), 'POST');
  status(ok ? `${body.redriven} refused usage rows re-driven; they go out on the next push run.${body.failures.length ? ' Failed: ' + body.failures.join('; ') : ''}` : body.error);
  await loadOverview();
}

async function find(query) {
  show('find');
  $('find-query').value = query;
  const { ok, body } = await api('find?q=' + encodeURIComponent(query));
  const results = $('find-results');
  if (!ok) { results.replaceChildren(el('p', body.error)); return; }
  const parts = [];
  if (body.instances.length === 0 && !body.licence) parts.push(el('p', `Nothing found for ${query}.`));
  for (const { instance: i, timeline } of body.instances) {
    const article = el('article', null, { class: 'found' });
    article.append(el('h3', `Instance ${i.instanceId}`));
    const facts = el('dl');
    for (const [name, value] of [['Order', i.orderId], ['State', i.state], ['Product', i.productId], ['Expires', i.expireTime], ['Failure', i.failureReason], ['Last error', i.lastError]]) {
      if (value === null || value === undefined || value === '') continue;
      facts.append(el('dt', name), el('dd', value, name === 'State' ? { class: 'state' } : {}));
    }
    article.append(facts);
    if (i.state === 'Failed') {
      const button = el('button', 'Re-drive', { type: 'button' });
      button.addEventListener('click', async () => { await redrive(i.instanceId, i.orderId); await find(query); });
      article.append(button);
    }
    article.append(timelineList(timeline));
    parts.push(article);
  }
  if (body.licence) {
    const article = el('article', null, { class: 'found' });
    article.append(el('h3', `Licence ${body.licence.licence.license}`), el('p', `Status ${body.licence.licence.status}, expires ${body.licence.licence.expireTime}`));
    article.append(timelineList(body.licence.timeline));
    parts.push(article);
  }
  results.replaceChildren(...parts);
}

function timelineList(events) {
  const list = el('ol', null, { class: 'timeline', 'aria-label': 'Timeline' });
  for (const e of events) {
    const item = el('li');
    item.append(el('time', when(e.at), { datetime: e.at }), el('span', ` ${e.kind}${e.activity ? ' ' + e.activity : ''}${e.from || e.to ? ` ${e.from || ''} → ${e.to || ''}` : ''}`));
    if (e.detail) item.append(el('span', ' — ' + e.detail, { class: 'detail' }));
    list.append(item);
  }
  return list;
}

async function route() {
  try {
    if (location.hash === '#find') { show('find'); await api('overview'); $('find-query').focus(); return; }
    await loadOverview();
  } catch (error) {
    if (error.message !== 'unauthorised') status('Could not load: ' + error.message);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('key-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    sessionStorage.setItem(keyStore, $('operator-key').value);
    $('operator-key').value = '';
    // One load: setting a new hash routes by itself (hashchange); the same hash does not.
    if (location.hash === '#overview') await route(); else location.hash = '#overview';
  });
  $('find-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    await find($('find-query').value.trim());
  });
  $('redrive-all').addEventListener('click', async () => {
    if (!(await confirmAction('Re-drive every failed instance?'))) return;
    const { body } = await api('redrive', 'POST');
    status(`Re-drove ${body.results.filter((r) => r.redriven).length} of ${body.results.length} failed instances.`);
    await loadOverview();
  });
  $('redrive-refused-all').addEventListener('click', () => redriveRefused(null, 'every refused usage row'));
  window.addEventListener('hashchange', route);
  route();
});
