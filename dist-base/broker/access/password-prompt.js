/**
 * A password for `tinymqtt passwd`: typed without echo (asked twice, like mosquitto_passwd)
 * when the input is a terminal, otherwise the first line of the piped input.
 */
export async function readPassword(input = process.stdin, output = process.stderr) {
    if (!input.isTTY || !input.setRawMode)
        return firstLine(input);
    const first = await readHidden(input, output, 'Password: ');
    const second = await readHidden(input, output, 'Reenter password: ');
    if (first !== second)
        throw new Error('passwords do not match');
    return first;
}
async function firstLine(input) {
    const chunks = [];
    for await (const chunk of input) {
        chunks.push(Buffer.from(chunk));
        if (chunk.includes(0x0a))
            break;
    }
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}
function readHidden(input, output, prompt) {
    output.write(prompt);
    input.setRawMode(true);
    input.resume();
    return new Promise((resolve, reject) => {
        let text = '';
        const done = (error) => {
            input.off('data', onData);
            input.setRawMode(false);
            input.pause();
            output.write('\n');
            if (error)
                reject(error);
            else
                resolve(text);
        };
        const onData = (chunk) => {
            for (const char of chunk.toString('utf8')) {
                if (char === '\r' || char === '\n') {
                    done();
                    return;
                }
                if (char === '\u0003' || char === '\u0004') {
                    done(new Error('cancelled'));
                    return;
                }
                if (char === '\u007f' || char === '\b')
                    text = text.slice(0, -1);
                else
                    text += char;
            }
        };
        input.on('data', onData);
    });
}
//# sourceMappingURL=password-prompt.js.map