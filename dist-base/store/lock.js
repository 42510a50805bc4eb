import { createHash } from 'node:crypto';
import { linkSync, lstatSync, realpathSync, renameSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirError } from "./errors.js";
export const lockFileName = 'tinymqtt.lock';
/** Longest Unix socket path the kernel takes (sun_path less its NUL): 107 on Linux, 103 on the BSDs and macOS. */
const maxSocketPath = process.platform === 'linux' ? 107 : 103;
/** How long a live holder has to say its pid before it is reported without one. */
const pidReplyMs = 2000;
/** Probes answered at once; anything beyond waits in the backlog (the lock carries no traffic). */
const maxProbes = 16;
/**
 * Where a data directory's lock socket lives: `<dir>/tinymqtt.lock`, or, when that path is too
 * long for a Unix socket, `<tmpdir>/tinymqtt-<hash of the real directory path>.lock`.
 */
export function lockPath(dir) {
    const inDir = join(dir, lockFileName);
    if (Buffer.byteLength(inDir) <= maxSocketPath)
        return inDir;
    let real;
    try {
        real = realpathSync(dir);
    }
    catch {
        real = dir;
    }
    const hash = createHash('sha256').update(real).digest('hex').slice(0, 24);
    const short = join(tmpdir(), `tinymqtt-${hash}.lock`);
    if (Buffer.byteLength(short) <= maxSocketPath)
        return short;
    throw new DataDirError(dir, `its lock socket path is longer than the ${maxSocketPath} bytes a Unix socket allows, and so is ${short}`, 'Start with --data pointing at a shorter path, or set TMPDIR to a short directory');
}
/**
 * Takes the data directory for this process, or says who holds it. LMDB lets several
 * processes share a file, so two brokers would otherwise both write the same sessions.
 *
 * The lock is a Unix socket listening at lockPath(dir). The kernel closes it when its process
 * dies, however it dies and whether or not it has been reaped: a socket file left behind then
 * refuses connections and is replaced, while a live holder accepts them (and answers with its
 * pid). No pid is checked for liveness, so a recycled pid (a container restart, pid 1) never
 * blocks a start.
 */
export async function tryLockDataDir(dir) {
    const path = lockPath(dir);
    // Each round either binds, finds a live holder, or removes one dead socket file; a few
    // rounds cover brokers racing over the same stale file.
    for (let round = 0; round < 5; round++) {
        const server = await listen(path).catch((error) => {
            if (error.code === 'EADDRINUSE')
                return undefined;
            throw lockError(dir, path, error);
        });
        if (server)
            return { release: () => server.close() };
        const stale = statOrUndefined(path);
        if (!stale)
            continue;
        const probe = await ask(path);
        if (probe.live)
            return { holder: probe.pid };
        if (probe.gone)
            continue;
        removeDead(dir, path, stale);
    }
    throw new DataDirError(dir, `could not take the lock ${path}: other brokers kept taking it`, 'Try again');
}
/** Takes the data directory for this process (see tryLockDataDir); returns the release function. */
export async function lockDataDir(dir) {
    const attempt = await tryLockDataDir(dir);
    if ('release' in attempt)
        return attempt.release;
    const { holder } = attempt;
    const who = holder === undefined ? '' : ` (pid ${holder}${holder === process.pid ? ', this process' : ''})`;
    throw new DataDirError(dir, `in use by another tinymqtt broker${who}`, 'Stop that broker or start this one with --data pointing at another directory');
}
function listen(path) {
    return new Promise((resolve, reject) => {
        const server = net.createServer({ allowHalfOpen: false });
        server.maxConnections = maxProbes;
        server.on('connection', (socket) => {
            // Only ever a probe: say who holds the lock, then hang up.
            socket.on('error', () => { });
            socket.unref();
            socket.end(`${process.pid}\n`, () => socket.destroy());
        });
        server.once('error', reject);
        server.listen(path, () => {
            server.off('error', reject);
            // After binding, an error (none are expected) must not become an uncaught exception.
            server.on('error', () => { });
            // The lock must never keep a stopping broker (or reset-data) alive.
            server.unref();
            resolve(server);
        });
    });
}
/** Connects to the lock socket: a live holder accepts (and sends its pid); a dead one's file refuses. */
function ask(path) {
    return new Promise((resolve) => {
        const socket = net.connect(path);
        let text = '';
        const done = (probe) => {
            clearTimeout(timer);
            socket.destroy();
            resolve(probe);
        };
        const answered = () => {
            const pid = Number.parseInt(text, 10);
            done({ live: true, gone: false, pid: Number.isInteger(pid) && pid > 0 ? pid : undefined });
        };
        const timer = setTimeout(answered, pidReplyMs);
        timer.unref();
        socket.setEncoding('utf8');
        socket.on('data', (chunk) => {
            text += chunk;
            if (text.includes('\n'))
                answered();
        });
        socket.on('end', answered);
        socket.on('error', (error) => {
            if (error.code === 'ECONNREFUSED')
                done({ live: false, gone: false });
            else if (error.code === 'ENOENT')
                done({ live: false, gone: true });
            // Anything else (EAGAIN: a full backlog) means some process has it open: treat as held.
            else
                done({ live: true, gone: false });
        });
    });
}
function statOrUndefined(path) {
    try {
        return lstatSync(path);
    }
    catch (error) {
        if (error.code === 'ENOENT')
            return undefined;
        throw error;
    }
}
/**
 * Removes the dead socket file seen as `stale`. A plain unlink could remove a socket another
 * broker bound there since the probe, so the file is first moved aside (atomically) and
 * checked: if it is not the dead one, it is linked back unless something took its place.
 */
function removeDead(dir, path, stale) {
    const aside = `${path}.${process.pid}.${Date.now()}.dead`;
    try {
        renameSync(path, aside);
    }
    catch (error) {
        if (error.code === 'ENOENT')
            return;
        throw lockError(dir, path, error);
    }
    const moved = statOrUndefined(aside);
    const same = moved !== undefined && moved.ino === stale.ino && moved.dev === stale.dev;
    if (!same) {
        try {
            linkSync(aside, path);
        }
        catch {
            // Something is at the path again: the next round probes it.
        }
    }
    try {
        unlinkSync(aside);
    }
    catch {
        // Already gone: nothing to tidy.
    }
}
function lockError(dir, path, error) {
    const code = error.code;
    return new DataDirError(dir, `cannot create the lock socket ${path} (${code ?? String(error)})`, 'Check that the directory is writable, or start with --data pointing at another directory', { cause: error });
}
//# sourceMappingURL=lock.js.map