/**
 * LocalStack as the harness runs it (run-localstack.sh): every socket of its process tree is on
 * loopback, TCP and UDP, listening or connected, so it neither serves beyond this machine nor
 * reaches out of it (no DNS server on 0.0.0.0:53, no analytics, no downloads). Checked with `ss`
 * from iproute2, which the check needs: without it the test fails rather than passing unseen.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, inject, it } from "vitest";
import { serverConfig } from "../../server-config.js";

const config = serverConfig("aws");
/** Absent when the tests run against a server someone else started (OMNISECRET_TEST_AWS_ENDPOINT). */
const pid = inject("serverPids").aws;

interface SocketLine {
  readonly netid: string;
  readonly state: string;
  readonly local: string;
  readonly peer: string;
  readonly pids: readonly number[];
}

/** Every TCP and UDP socket, in any state, with the processes that hold it. */
async function sockets(): Promise<SocketLine[]> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)("ss", ["-H", "-t", "-u", "-a", "-n", "-p"]));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error(
        "`ss` is not installed: install iproute2 (apt-get install iproute2) to check LocalStack's sockets",
        {
          cause: error,
        },
      );
    }
    throw error;
  }
  return stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [netid = "", state = "", , , local = "", peer = "", ...rest] = line.trim().split(/\s+/);
      const pids = [...rest.join(" ").matchAll(/pid=(\d+)/g)].map((match) => Number(match[1]));
      return { netid, state, local, peer, pids };
    });
}

/** The leader and every process below it: its process group, and any descendant that left it. */
function processTree(leader: number): Set<number> {
  const processes = readdirSync("/proc").flatMap((entry) => {
    if (!/^\d+$/.test(entry)) return [];
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the command name, which is in parentheses and may hold spaces.
      const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return [{ pid: Number(entry), ppid: Number(ppid), pgrp: Number(pgrp) }];
    } catch {
      return []; // Exited meanwhile.
    }
  });
  const tree = new Set([leader, ...processes.filter((p) => p.pgrp === leader).map((p) => p.pid)]);
  for (let grown = true; grown; ) {
    grown = false;
    for (const p of processes) {
      if (tree.has(p.ppid) && !tree.has(p.pid)) {
        tree.add(p.pid);
        grown = true;
      }
    }
  }
  return tree;
}

/** The host part of `127.0.0.1:4566`, `[::1]:4566`, `*:*` or `127.0.0.1%lo:53`. */
function hostOf(address: string): string {
  return address
    .slice(0, address.lastIndexOf(":"))
    .replace(/^\[(.*)\]$/, "$1")
    .replace(/%.*$/, "");
}
const isLoopback = (host: string) => host.startsWith("127.") || host === "::1" || host === "::ffff:127.0.0.1";

describe("LocalStack as the harness runs it", () => {
  it.skipIf(pid === undefined)("listens on loopback only and connects nowhere else (checked with ss)", async () => {
    const tree = processTree(pid as number);
    expect(tree.size).toBeGreaterThan(1); // run-localstack.sh and LocalStack's python at least
    const own = (await sockets()).filter((socket) => socket.pids.some((p) => tree.has(p)));

    const port = new URL(config.endpoint as string).port;
    expect(own).toContainEqual(expect.objectContaining({ netid: "tcp", state: "LISTEN", local: `127.0.0.1:${port}` }));
    const beyondLoopback = own.filter(
      (socket) => !isLoopback(hostOf(socket.local)) || !(socket.peer.endsWith(":*") || isLoopback(hostOf(socket.peer))),
    );
    expect(beyondLoopback).toEqual([]);
  });
});
