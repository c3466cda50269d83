/**
 * Azure Key Vault by hand with `@azure/keyvault-secrets`: the fewest requests for the effect
 * omnisecret's default config has, the owner in the name (`<prefix>-<owner>-<uuid>`) so no read is
 * spent on ownership.
 * - store: GET, then PUT with the tags (2). Key Vault has no conditional create (a PUT is an
 *   upsert), so refusing an existing id needs the read.
 * - get: GET (1), which returns the value.
 * - update: GET, PUT, PATCH (3). A PUT alone would create a missing id; the GET also gives the
 *   version the PUT replaces, which the PATCH disables so the old values stop being readable.
 * - delete: DELETE (404 tells a missing id), GET deletedsecrets until the deletion shows, then
 *   the purge (3 or more), so the id can be stored again at once. `beginDeleteSecret` looks once
 *   right after the DELETE; then this waits before each further look, where the SDK's
 *   `pollUntilDone` would look again at once first.
 * Not done here, as the bench never meets it: a store over a deleted-but-recoverable name.
 */
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { rootCertificates } from "node:tls";
import { ClientSecretCredential, DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { type BenchSide, NotFound, type RawFactory } from "../../../bench/lib/side.js";

interface SecretCredentialConfig {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  authorityHost?: string;
}

export const createRawAzure: RawFactory = async (config, prefix) => {
  const owner = (config.owner as string | undefined) ?? "default";
  const caCertFile = config.caCertFile as string | undefined;
  const caCert = caCertFile ? readFileSync(caCertFile, "utf8") : undefined;
  // The sign-in may go to Microsoft Entra (an external vault): the system's CAs and the file.
  const tlsOptions = caCert ? { ca: [...rootCertificates, caCert] } : undefined;
  const secretCredential = config.credential as SecretCredentialConfig | undefined;
  const credential: TokenCredential = secretCredential
    ? new ClientSecretCredential(secretCredential.tenantId, secretCredential.clientId, secretCredential.clientSecret, {
        ...(secretCredential.authorityHost
          ? { authorityHost: secretCredential.authorityHost, disableInstanceDiscovery: true }
          : {}),
        ...(tlsOptions ? { tlsOptions } : {}),
      })
    : new DefaultAzureCredential(tlsOptions ? { tlsOptions } : {});
  const client = new SecretClient(config.vaultUrl as string, credential, {
    disableChallengeResourceVerification: config.disableChallengeResourceVerification === true,
    // The vault's certificate is issued by the file's CA: the client trusts that one, as a user of
    // a vault with a private CA writes it. Not the system's CAs too: Node's https.Agent puts its
    // `ca` into the key it finds sockets by, joined on every request, and a few hundred kilobytes
    // of CAs cost about a millisecond a request there (omnisecret's client keeps them all, in one
    // secure context outside that key).
    ...(caCert ? { tlsOptions: { ca: caCert } } : {}),
  });
  const nameOf = (id: string) => `${prefix}-${owner}-${id}`;
  const setOptions = (id: string) => ({
    contentType: "application/json",
    tags: { "managed-by": "omnisecret", "omnisecret-id": id, "omnisecret-owner": owner },
  });
  const notFoundAs = (id: string) => (error: unknown) => {
    throw (error as { statusCode?: number }).statusCode === 404 ? new NotFound(id) : error;
  };

  const side: BenchSide = {
    async storeSecretValues(id, values) {
      const exists = await client.getSecret(nameOf(id)).then(
        () => true,
        (error: unknown) => {
          if ((error as { statusCode?: number }).statusCode === 404) return false;
          throw error;
        },
      );
      if (exists) throw new Error(`secret ${id} already exists`);
      await client.setSecret(nameOf(id), JSON.stringify(values), setOptions(id));
    },
    async getSecretValues(id) {
      const secret = await client.getSecret(nameOf(id)).catch(notFoundAs(id));
      return JSON.parse(secret.value as string);
    },
    async updateSecretValues(id, values) {
      const current = await client.getSecret(nameOf(id)).catch(notFoundAs(id));
      await client.setSecret(nameOf(id), JSON.stringify(values), setOptions(id));
      await client.updateSecretProperties(nameOf(id), current.properties.version as string, { enabled: false });
    },
    async deleteSecretValues(id) {
      const poller = await client.beginDeleteSecret(nameOf(id)).catch(notFoundAs(id));
      while (!poller.isDone()) {
        await sleep(500);
        await poller.poll();
      }
      await client.purgeDeletedSecret(nameOf(id));
    },
    async close() {},
  };
  return side;
};
