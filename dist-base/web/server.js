import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { checkBasicAuth } from "./http-auth.js";
import { parseViewRequest } from "./views.js";
/** Shipped next to the compiled code (the build copies src/web/assets to dist/web/assets). */
const ASSETS = {
    '/': 'index.html',
    '/index.html': 'index.html',
    '/app.js': 'app.js',
    '/style.css': 'style.css',
};
const TYPES = {
    html: 'text/html; charset=utf-8',
    js: 'text/javascript; charset=utf-8',
    css: 'text/css; charset=utf-8',
};
const MAX_BODY = 1 << 20;
const HEADERS = {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'content-security-policy': "default-src 'self'; connect-src 'self'; img-src 'self' data:",
    'cache-control': 'no-cache',
};
class HttpError extends Error {
    status;
    constructor(status, message) {
        super(message);
        this.status = status;
    }
}
function loadAssets() {
    const files = new Map();
    for (const name of new Set(Object.values(ASSETS))) {
        files.set(name, readFileSync(new URL(`./assets/${name}`, import.meta.url)));
    }
    return files;
}
/**
 * A browser sends Basic credentials with any request to this origin, so a state-changing request
 * must prove it comes from our own page: a same-origin Origin header (or none, for non-browser
 * tools) and a JSON body, which a cross-site form cannot send without a CORS preflight.
 */
function sameOrigin(req) {
    const origin = req.headers.origin;
    if (origin === undefined)
        return true;
    try {
        return new URL(origin).host === req.headers.host;
    }
    catch {
        return false;
    }
}
async function readJson(req) {
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
        throw new HttpError(415, 'expected application/json');
    }
    const chunks = [];
    let size = 0;
    for await (const chunk of req) {
        size += chunk.length;
        if (size > MAX_BODY)
            throw new HttpError(413, 'body too large');
        chunks.push(chunk);
    }
    let parsed;
    try {
        parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    }
    catch {
        throw new HttpError(400, 'invalid JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new HttpError(400, 'expected a JSON object');
    }
    return parsed;
}
function send(res, status, body) {
    res.writeHead(status, { ...HEADERS, 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
}
/** The HTTP side: static page, JSON views, the publish and disconnect actions, the /ws upgrade. */
export function createWebServer({ broker, views, onSocket, beforeRead, scripting }) {
    const assets = loadAssets();
    const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
    const handle = async (req, res) => {
        const url = new URL(req.url ?? '/', 'http://dashboard');
        const asset = ASSETS[url.pathname];
        if (req.method === 'GET' && asset !== undefined) {
            res.writeHead(200, { ...HEADERS, 'content-type': TYPES[asset.split('.').pop() ?? ''] ?? 'text/plain' });
            res.end(assets.get(asset));
            return;
        }
        const viewMatch = /^\/api\/view\/([a-z]+)$/.exec(url.pathname);
        if (req.method === 'GET' && viewMatch) {
            const request = parseViewRequest({ ...Object.fromEntries(url.searchParams), view: viewMatch[1] });
            if (request.view !== viewMatch[1])
                throw new HttpError(404, 'no such view');
            beforeRead(request.view);
            send(res, 200, views.build(request));
            return;
        }
        if (req.method === 'POST' && ACTIONS.has(url.pathname)) {
            if (!sameOrigin(req))
                throw new HttpError(403, 'cross-origin request refused');
            const body = await readJson(req);
            if (url.pathname === '/api/publish')
                await publish(broker, body);
            else if (url.pathname === '/api/disconnect')
                disconnect(broker, body);
            else
                await reload(scripting, body);
            send(res, 200, { ok: true });
            return;
        }
        throw new HttpError(404, 'not found');
    };
    const server = createServer((req, res) => {
        if (!checkBasicAuth(broker, req.headers.authorization, req.socket.remoteAddress ?? '')) {
            res.writeHead(401, { ...HEADERS, 'www-authenticate': 'Basic realm="tinymqtt", charset="UTF-8"' });
            res.end('authentication required');
            return;
        }
        handle(req, res).catch((error) => {
            const status = error instanceof HttpError ? error.status : 500;
            if (status === 500)
                broker.logger.error({ err: error }, 'dashboard request failed');
            if (!res.headersSent)
                send(res, status, { error: error instanceof Error ? error.message : String(error) });
            else
                res.destroy();
        });
    });
    server.on('upgrade', (req, socket, head) => {
        const refuse = (status) => {
            socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        };
        if (new URL(req.url ?? '/', 'http://dashboard').pathname !== '/ws')
            return refuse('404 Not Found');
        if (!checkBasicAuth(broker, req.headers.authorization, req.socket.remoteAddress ?? '')) {
            return refuse('401 Unauthorized');
        }
        // Browsers do not apply the same-origin policy to WebSockets; another site's page must not read the feed.
        if (!sameOrigin(req))
            return refuse('403 Forbidden');
        wss.handleUpgrade(req, socket, head, (ws) => onSocket(ws));
    });
    return { server, wss };
}
async function publish(broker, body) {
    const { topic, payload, qos, retain } = body;
    if (typeof topic !== 'string' ||
        topic === '' ||
        /[+#]/.test(topic) ||
        topic.includes(String.fromCharCode(0))) {
        throw new HttpError(400, 'topic must be a non-empty topic name without wildcards');
    }
    if (payload !== undefined && typeof payload !== 'string')
        throw new HttpError(400, 'payload must be a string');
    if (qos !== undefined && qos !== 0 && qos !== 1 && qos !== 2)
        throw new HttpError(400, 'qos must be 0, 1 or 2');
    await broker.publish({ topic, payload: payload ?? '', qos: (qos ?? 0), retain: retain === true });
}
const ACTIONS = new Set(['/api/publish', '/api/disconnect', '/api/reload']);
async function reload(scripting, body) {
    if (typeof body.name !== 'string')
        throw new HttpError(400, 'name must be a string');
    if (!scripting || !(await scripting.reload(body.name)))
        throw new HttpError(404, 'no such script');
}
function disconnect(broker, body) {
    if (typeof body.clientId !== 'string')
        throw new HttpError(400, 'clientId must be a string');
    if (!broker.disconnectClient(body.clientId, 'disconnected from the dashboard')) {
        throw new HttpError(404, 'no such client');
    }
}
//# sourceMappingURL=server.js.map