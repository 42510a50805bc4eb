import type { Readable, Writable } from 'node:stream'

type Input = Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown }
/** A terminal that can stop echoing what is typed. */
type RawInput = Input & { setRawMode: (mode: boolean) => unknown }

function isRawTerminal(input: Input): input is RawInput {
  return input.isTTY === true && typeof input.setRawMode === 'function'
}

/**
 * A password for `tinymqtt passwd`: typed without echo (asked twice, like mosquitto_passwd)
 * when the input is a terminal, otherwise the first line of the piped input.
 */
export async function readPassword(
  input: Input = process.stdin,
  output: Writable = process.stderr,
): Promise<string> {
  if (!isRawTerminal(input)) return firstLine(input)
  const first = await readHidden(input, output, 'Password: ')
  const second = await readHidden(input, output, 'Reenter password: ')
  if (first !== second) throw new Error('passwords do not match')
  return first
}

async function firstLine(input: Readable): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of input) {
    chunks.push(Buffer.from(chunk as Buffer))
    if ((chunk as Buffer).includes(0x0a)) break
  }
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? ''
}

function readHidden(input: RawInput, output: Writable, prompt: string): Promise<string> {
  output.write(prompt)
  input.setRawMode(true)
  input.resume()
  return new Promise((resolve, reject) => {
    let text = ''
    const done = (error?: Error): void => {
      input.off('data', onData)
      input.setRawMode(false)
      input.pause()
      output.write('\n')
      if (error) reject(error)
      else resolve(text)
    }
    const onData = (chunk: Buffer): void => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') {
          done()
          return
        }
        if (char === '\u0003' || char === '\u0004') {
          done(new Error('cancelled'))
          return
        }
        if (char === '\u007f' || char === '\b') text = text.slice(0, -1)
        else text += char
      }
    }
    input.on('data', onData)
  })
}
