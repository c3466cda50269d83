// The baseline of bench/masking.ts: runs the command given as arguments with its stdout a pipe and
// copies that pipe to its own stdout as it is, the copy `run` makes minus the masking.
import { spawn } from "node:child_process";
import { pipeline } from "node:stream/promises";

const [command, ...args] = process.argv.slice(2);
const child = spawn(command, args, { stdio: ["inherit", "pipe", "inherit"] });
const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code ?? 1)));
await pipeline(child.stdout, process.stdout, { end: false });
process.exitCode = await exited;
