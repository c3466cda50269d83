/**
 * A custom adapter module for the CLI's version tests: one memory store keeping 2 versions,
 * shared by every CLI invocation of a test file (each opens its store again, as separate processes
 * open one server's).
 */
import { MemoryAdapter } from "../../adapters/memory/index.js";

const shared = new MemoryAdapter({ maxValueBytes: 65_536, keepVersions: 2 });

export default function sharedMemoryAdapter(): MemoryAdapter {
  return shared;
}
