/** Where commands write: stdout for results, stderr for the one-line failure. Replaceable in tests. */
export interface Output {
  line(text: string): void;
  json(value: unknown): void;
}

export const stdout: Output = {
  line: (text) => process.stdout.write(`${text}\n`),
  json: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
};

/** A failure the command already explained; the CLI exits with `exitCode` and prints `message`. */
export class CommandFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
  }
}
