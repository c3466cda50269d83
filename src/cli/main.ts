#!/usr/bin/env node
import { text } from "node:stream/consumers";
import { runCli } from "./program.js";

const exitCode = await runCli(process.argv.slice(2), {
  stdout: (chunk) => process.stdout.write(chunk),
  stderr: (chunk) => process.stderr.write(chunk),
  readStdin: () => text(process.stdin),
  env: process.env,
  stdoutIsTty: process.stdout.isTTY === true,
  progressStream: process.stderr,
  stdoutStream: process.stdout,
  stderrStream: process.stderr,
});
process.exitCode = exitCode;
