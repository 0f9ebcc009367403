// Renders the gateway's OpenAPI document and sends requests from it. Self-contained: no
// library, nothing fetched but the document and the requests the reader sends.
(() => {
  'use strict';
  const documentUrl = new URL('/openapi/v1.json', location.href);
  const methods = ['get', 'post', 'put', 'patch', 'delete'];
  const state = { spec: null, credential: '', kind: 'bearer' };

  // Builds an element; children are nodes or strings (always inserted as text, never as HTML).
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else if (name === 'text') node.textContent = value;
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  // `code` and **bold** of the document's descriptions, as elements; everything else is text.
  function prose(text) {
    const paragraph = el('p');
    for (const part of String(text || '').split(/(`[^`]+`|\*\*[^*]+\*\*)/)) {
      if (part.startsWith('`') && part.endsWith('`') && part.length > 1) paragraph.append(el('code', { text: part.slice(1, -1) }));
      else if (part.startsWith('**') && part.endsWith('**') && part.length > 3) paragraph.append(el('strong', { text: part.slice(2, -2) }));
      else paragraph.append(part);
    }
    return paragraph;
  }

  function resolve(schema) {
    let guard = 0;
    while (schema && schema.$ref && guard++ < 16) {
      const name = schema.$ref.split('/').pop();
      schema = (state.spec.components && state.spec.components.schemas || {})[name];
    }
    return schema || {};
  }

  function refName(schema) {
    return schema && schema.$ref ? schema.$ref.split('/').pop() : null;
  }

  function typeOf(schema) {
    const resolved = resolve(schema);
    const name = refName(schema);
    let type = Array.isArray(resolved.type) ? resolved.type.filter((t) => t !== 'null').join(' | ') : resolved.type;
    if (type === 'array') type = `array of ${typeOf(resolved.items)}`;
    if (resolved.format) type = `${type || 'string'} (${resolved.format})`;
    return name ? `${name}` : (type || 'any');
  }

  // An indented text outline of a schema: "name: type (required) - description".
  function outline(schema, depth = 0, seen = new Set()) {
    const resolved = resolve(schema);
    const name = refName(schema);
    if (name) {
      if (seen.has(name) || depth > 5) return [];
      seen = new Set(seen).add(name);
    }
    let properties = resolved.properties;
    let prefix = '';
    const isArray = resolved.type === 'array' || (Array.isArray(resolved.type) && resolved.type.includes('array'));
    let required = resolved.required;
    if (!properties && isArray && resolved.items) {
      properties = resolve(resolved.items).properties;
      required = resolve(resolved.items).required;
      prefix = '[] ';
    }
    if (!properties) return [];
    required = new Set(required || []);
    const lines = [];
    for (const [key, value] of Object.entries(properties)) {
      const description = resolve(value).description || value.description;
      lines.push(`${'  '.repeat(depth)}${prefix}${key}: ${typeOf(value)}${required.has(key) ? ' (required)' : ''}${description ? ' - ' + description : ''}`);
      // An array property's items are outlined by the call itself, marked "[]".
      lines.push(...outline(value, depth + 1, seen));
    }
    return lines;
  }

  // A small example body: required properties (all of them when none is required).
  function example(schema, depth = 0) {
    const resolved = resolve(schema);
    if (depth > 4) return null;
    if (resolved.enum && resolved.enum.length) return resolved.enum[0];
    const types = Array.isArray(resolved.type) ? resolved.type : [resolved.type];
    if (resolved.properties || types.includes('object')) {
      const result = {};
      const keys = Object.keys(resolved.properties || {});
      const required = resolved.required && resolved.required.length ? resolved.required : keys;
      for (const key of keys) if (required.includes(key)) result[key] = example(resolved.properties[key], depth + 1);
      return result;
    }
    if (types.includes('array')) return [example(resolved.items, depth + 1)];
    if (types.includes('integer') || types.includes('number')) return 0;
    if (types.includes('boolean')) return false;
    if (types.includes('string')) return 'string';
    return null;
  }

  function setStatus(text) {
    document.getElementById('status').textContent = text;
  }

  function credentialState() {
    const credential = document.getElementById('credential').value.trim();
    const kind = document.getElementById('credential-kind').value;
    state.credential = credential;
    state.kind = kind;
    document.getElementById('credential-state').textContent = credential
      ? `Sending ${kind === 'bearer' ? 'Authorization: Bearer …' : 'X-API-Key: …'} (${credential.length} characters).`
      : 'No credential: only open operations will succeed.';
  }

  function useToken(token) {
    document.getElementById('credential').value = token;
    document.getElementById('credential-kind').value = 'bearer';
    credentialState();
  }

  function hex(bytes) {
    const lines = [];
    for (let offset = 0; offset < bytes.length; offset += 16) {
      const row = Array.from(bytes.slice(offset, offset + 16), (b) => b.toString(16).padStart(2, '0')).join(' ');
      lines.push(offset.toString(16).padStart(6, '0') + '  ' + row);
    }
    return lines.join('\n');
  }

  async function send(form, path, method, operation, output) {
    output.replaceChildren(el('p', { class: 'note', text: 'Sending…' }));
    let url = path;
    for (const parameter of operation.parameters || []) {
      const input = form.querySelector(`[data-parameter="${parameter.in}:${parameter.name}"]`);
      if (parameter.in === 'path') url = url.replace(`{${parameter.name}}`, encodeURIComponent(input.value));
    }
    const headers = {};
    for (const parameter of operation.parameters || []) {
      const input = form.querySelector(`[data-parameter="${parameter.in}:${parameter.name}"]`);
      if (parameter.in === 'header' && input.value !== '') headers[parameter.name] = input.value;
    }
    if (state.credential) {
      if (state.kind === 'apikey') headers['X-API-Key'] = state.credential;
      else headers.Authorization = 'Bearer ' + state.credential;
    }
    const init = { method: method.toUpperCase(), headers };
    const bodyInput = form.querySelector('textarea[data-body]');
    if (bodyInput && bodyInput.value.trim() !== '') {
      headers['Content-Type'] = 'application/json';
      init.body = bodyInput.value;
    }
    const started = performance.now();
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      output.replaceChildren(el('p', { class: 'status-5', text: `The request failed: ${error.message}` }));
      return;
    }
    const elapsed = (performance.now() - started).toFixed(1);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const contentType = response.headers.get('content-type') || '';
    const shown = [];
    for (const name of ['content-type', 'content-length', 'inference-header-content-length', 'server-timing', 'retry-after', 'www-authenticate', 'x-correlation-id', 'ratelimit-remaining']) {
      const value = response.headers.get(name);
      if (value !== null) shown.push(`${name}: ${value}`);
    }
    const parts = [
      el('h4', { class: `status-${String(response.status)[0]}`, 'data-response-status': response.status, text: `${response.status} ${response.statusText} in ${elapsed} ms` }),
      el('pre', { class: 'response-headers', text: shown.join('\n') }),
    ];
    const text = new TextDecoder();
    const jsonLength = Number(response.headers.get('inference-header-content-length'));
    if (contentType.startsWith('application/octet-stream') && jsonLength > 0) {
      parts.push(el('h4', { text: `JSON header (${jsonLength} bytes)` }), el('pre', { class: 'response-body', text: pretty(text.decode(bytes.slice(0, jsonLength))) }));
      parts.push(el('h4', { text: `Binary data (${bytes.length - jsonLength} bytes${bytes.length - jsonLength > 512 ? ', first 512 shown' : ''})` }), el('pre', { text: hex(bytes.slice(jsonLength, jsonLength + 512)) }));
    } else if (bytes.length > 0) {
      const body = text.decode(bytes);
      parts.push(el('pre', { class: 'response-body', text: contentType.includes('json') ? pretty(body) : body }));
      if (contentType.includes('json')) {
        try {
          const value = JSON.parse(body);
          if (value && typeof value.access_token === 'string') {
            parts.push(el('button', { type: 'button', 'data-use-token': '', onclick: () => useToken(value.access_token), text: 'Use this access token' }));
          }
        } catch { /* not JSON after all: shown as text */ }
      }
    } else {
      parts.push(el('p', { class: 'note', text: 'No body.' }));
    }
    output.replaceChildren(...parts);
  }

  function pretty(text) {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
  }

  function tryForm(path, method, operation) {
    const form = el('form', { class: 'try' });
    const output = el('div', { class: 'result', 'aria-live': 'polite' });
    const fields = [];
    for (const parameter of operation.parameters || []) {
      fields.push(el('label', {},
        `${parameter.name} (${parameter.in}${parameter.required ? ', required' : ''})`,
        el('input', { 'data-parameter': `${parameter.in}:${parameter.name}`, required: parameter.required, placeholder: parameter.description || '' })));
    }
    if (fields.length) form.append(el('div', { class: 'row' }, fields));
    const json = operation.requestBody && operation.requestBody.content && operation.requestBody.content['application/json'];
    if (json) {
      const body = el('textarea', { 'data-body': '', spellcheck: 'false', 'aria-label': 'JSON body' });
      body.value = operation.requestBody.required ? JSON.stringify(example(json.schema), null, 2) : '';
      form.append(el('label', {}, `JSON body${operation.requestBody.required ? '' : ' (optional)'}`, body));
      if (operation.requestBody.content['application/octet-stream']) {
        form.append(el('p', { class: 'note', text: 'Binary tensor bodies are shown in docs/API.md with curl; this form sends JSON.' }));
      }
    }
    form.append(el('button', { type: 'submit', 'data-send': '', text: `Send ${method.toUpperCase()}` }));
    form.append(output);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      send(form, path, method, operation, output);
    });
    return form;
  }

  function operationView(path, method, operation) {
    const role = operation['x-required-role'] || 'open';
    const body = el('div', { class: 'body' });
    if (operation.description) body.append(prose(operation.description));
    body.append(el('p', { class: 'note', text: role === 'open' ? 'Open: no credential needed.' : `Needs the role ${role} or higher: Authorization: Bearer or X-API-Key.` }));
    if (operation.parameters && operation.parameters.length) {
      body.append(el('h3', { text: 'Parameters' }), el('table', {},
        el('tr', {}, el('th', { text: 'name' }), el('th', { text: 'in' }), el('th', { text: 'type' }), el('th', { text: 'description' })),
        operation.parameters.map((p) => el('tr', {}, el('td', {}, el('code', { text: p.name })), el('td', { text: p.in }), el('td', { text: typeOf(p.schema) }), el('td', { text: p.description || '' })))));
    }
    if (operation.requestBody) {
      body.append(el('h3', { text: `Request body${operation.requestBody.required ? '' : ' (optional)'}` }));
      for (const [type, media] of Object.entries(operation.requestBody.content || {})) {
        const lines = outline(media.schema);
        body.append(el('p', {}, el('code', { text: type }), ` ${typeOf(media.schema)}`, resolve(media.schema).description ? ` - ${resolve(media.schema).description}` : ''));
        if (lines.length) body.append(el('pre', { text: lines.join('\n') }));
      }
    }
    body.append(el('h3', { text: 'Responses' }), el('table', {},
      el('tr', {}, el('th', { text: 'status' }), el('th', { text: 'description' }), el('th', { text: 'body' })),
      Object.entries(operation.responses || {}).map(([status, response]) => el('tr', { 'data-status': status },
        el('td', { class: `status-${status[0]}`, text: status }),
        el('td', { text: response.description || '' }),
        el('td', {}, Object.entries(response.content || {}).map(([type, media]) => el('div', {}, el('code', { text: type }), ` ${typeOf(media.schema)}`)))))));
    body.append(tryForm(path, method, operation));
    return el('details', { class: 'operation', id: operation.operationId, 'data-operation-id': operation.operationId, 'data-method': method.toUpperCase(), 'data-path': path },
      el('summary', {},
        el('span', { class: `method ${method}`, text: method.toUpperCase() }),
        el('span', { class: 'path', text: path }),
        el('span', { class: 'summary', text: operation.summary || '' }),
        el('span', { class: `role ${role}`, text: role })),
      body);
  }

  function render(spec) {
    state.spec = spec;
    document.getElementById('title').textContent = spec.info.title;
    document.getElementById('version').textContent = `version ${spec.info.version} · OpenAPI ${spec.openapi}`;
    const header = document.querySelector('header');
    if (spec.info.description) header.append(...spec.info.description.split('\n\n').map(prose));
    const groups = new Map((spec.tags || []).map((tag) => [tag.name, { tag, operations: [] }]));
    let count = 0;
    for (const [path, item] of Object.entries(spec.paths || {})) {
      for (const method of methods) {
        const operation = item[method];
        if (!operation) continue;
        const tag = (operation.tags && operation.tags[0]) || 'other';
        if (!groups.has(tag)) groups.set(tag, { tag: { name: tag }, operations: [] });
        groups.get(tag).operations.push(operationView(path, method, operation));
        count++;
      }
    }
    const main = document.getElementById('operations');
    for (const { tag, operations } of groups.values()) {
      if (!operations.length) continue;
      main.append(el('section', { 'data-tag': tag.name }, el('h2', { text: tag.name }), tag.description ? el('p', { class: 'note', text: tag.description }) : null, operations));
    }
    setStatus(`${count} operations.`);
    document.body.dataset.operations = String(count);
    if (location.hash.length > 1) {
      const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (target && target.tagName === 'DETAILS') { target.open = true; target.scrollIntoView(); }
    }
  }

  document.getElementById('credential').addEventListener('input', credentialState);
  document.getElementById('credential-kind').addEventListener('change', credentialState);
  document.getElementById('credential-clear').addEventListener('click', () => { document.getElementById('credential').value = ''; credentialState(); });

  fetch(documentUrl, { headers: { Accept: 'application/json' } })
    .then((response) => {
      if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
      return response.json();
    })
    .then(render)
    .catch((error) => setStatus(`Could not load ${documentUrl.pathname}: ${error.message}`));
})();
