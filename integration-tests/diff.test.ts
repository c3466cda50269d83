/**
 * Issue 25: `diff` through the built CLI between a local store and the vault test server:
 * exactly the seeded differences, the exit codes, and no seeded value in its output, its
 * `--verbose` output or its `NODE_DEBUG=omnisecret` log. And compareStores on each test server
 * while another client deletes, changes and creates secrets between the lists and the reads.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runBuiltCli, writeConfig } from "../src/cli/built-cli.test-helper.js";
import { expectComparisonThroughRaces, expectNoValueIn, seeded } from "../src/compare-stores.test-helper.js";
import { createAdapterFromConfig, SecretStore } from "../src/index.js";
import { requestedProviders } from "./harness/index.js";
import { serverConfig } from "./server-config.js";
import { providerTestSides } from "./servers/index.js";

const directory = mkdtempSync(join(tmpdir(), "omnisecret-diff-vault-"));
const vaultConfig = { ...serverConfig("vault"), prefix: `diff-${randomUUID().slice(0, 8)}` };
const localConfig = { provider: "local", path: join(directory, "local.db") };
const stores: SecretStore[] = [];
afterAll(async () => {
  for (const store of stores) {
    for await (const id of store.listSecretIds()) await store.deleteSecretValues(id);
    await store.close();
  }
});

describe("diff between local and vault, through the built CLI", () => {
  it("reports exactly the seeded differences with exit 1, then 0 once they are repaired, and never a value", async () => {
    const local = await SecretStore.create(localConfig);
    const vault = await SecretStore.create(vaultConfig);
    stores.push(local, vault);
    const { ids, values, diffLines } = await seeded(local, vault);
    const args = ["diff", "--from", writeConfig(directory, localConfig), "--to", writeConfig(directory, vaultConfig)];

    const plain = await runBuiltCli(args);
    expect(plain.code).toBe(1);
    expect(plain.stdout.split("\n").filter(Boolean).sort()).toEqual(diffLines);
    const verbose = await runBuiltCli([...args, "--verbose", "--json"], { debug: true });
    expect(verbose.code).toBe(1);
    const parsed = JSON.parse(verbose.stdout) as { same: number; differs: number; entries: unknown[] };
    expect(parsed).toMatchObject({ same: 2, differs: 4, onlyInFrom: 1, onlyInTo: 1, errors: 0, identical: false });
    expect(verbose.stderr).toContain("OMNISECRET"); // the debug log ran: ids and operations only
    const everything = [plain, verbose].map((run) => run.stdout + run.stderr).join("\n");
    expectNoValueIn(everything, values);

    // Repaired: the vault side made the local side's copy.
    for (const id of [ids.changed, ids.keyAdded, ids.keyRemoved, ids.normalization]) {
      await vault.updateSecretValues(id, await local.getSecretValues(id));
    }
    await vault.storeSecretValues(ids.onlyInFrom, await local.getSecretValues(ids.onlyInFrom));
    await vault.deleteSecretValues(ids.onlyInTo);
    const repaired = await runBuiltCli(args);
    expect(repaired).toMatchObject({
      code: 0,
      stdout: "identical: 7 secrets, same 7, differs 0, only in from 0, only in to 0, errors 0\n",
    });
  });
});

const servers = requestedProviders().filter((provider) =>
  providerTestSides.some((side) => side.provider === provider && side.server),
);

describe("compareStores through races, on each test server", () => {
  for (const provider of servers) {
    it(`${provider}: a secret deleted after the lists is only in the other store, never same nor a failure`, async () => {
      // Two places on one server (two prefixes); each compared store's reads wait for the races.
      const side = async () => {
        const config = { ...serverConfig(provider), prefix: `race-${randomUUID().slice(0, 8)}` };
        const other = await SecretStore.create(config);
        stores.push(other);
        const { adapter } = await createAdapterFromConfig(config);
        return { adapter, options: { prefix: config.prefix }, other };
      };
      await expectComparisonThroughRaces(await side(), await side());
    });
  }
});
