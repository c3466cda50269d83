/**
 * AWS Secrets Manager by hand, with the fewest calls for the same effect: the secret named
 * `<prefix>/<owner>/<uuid>` (the owner in the name, so no ownership lookup), the map as its JSON
 * SecretString, a missing id reported as NotFound.
 *
 * - store: CreateSecret, with the tags and a ClientRequestToken; it fails on an existing name.
 * - get: GetSecretValue by name; a missing secret, or one pending deletion, is an error.
 * - update: PutSecretValue by name; it fails on a missing secret, so it never creates.
 * - delete: 2 calls, and no fewer: a DeleteSecret with ForceDeleteWithoutRecovery answers
 *   success for a missing name, so it cannot report not found alone, and a recovery-window
 *   DeleteSecret alone leaves the name taken for 7 days, so the id could not be stored again.
 *   DescribeSecret then a force delete would cost the same; the recovery-window DeleteSecret by
 *   name (ResourceNotFound or already scheduled when missing) then the force delete of the ARN it
 *   returned is chosen because its first call also settles racing deletes.
 */
import { randomUUID } from "node:crypto";
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { type BenchSide, NotFound, type RawFactory } from "../../../bench/lib/side.js";

export const createRawAws: RawFactory = async (config, prefix) => {
  const owner = (config.owner as string | undefined) ?? "default";
  const client = new SecretsManagerClient({
    region: config.region as string,
    endpoint: config.endpoint as string,
    credentials: { ...(config.credentials as { accessKeyId: string; secretAccessKey: string }) },
    maxAttempts: 3,
  });
  const nameOf = (id: string) => `${prefix}/${owner}/${id}`;

  /** Runs one call; a missing secret, or one scheduled for deletion, becomes NotFound. */
  async function orNotFound<T>(id: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      const { name, message } = error as { name?: string; message?: string };
      const pending =
        name === "InvalidRequestException" && /marked (for )?delet|scheduled for deletion/i.test(message ?? "");
      if (name === "ResourceNotFoundException" || pending) throw new NotFound(id);
      throw error;
    }
  }

  const side: BenchSide = {
    async storeSecretValues(id, values) {
      await client.send(
        new CreateSecretCommand({
          Name: nameOf(id),
          SecretString: JSON.stringify(values),
          Tags: [
            { Key: "omnisecret:id", Value: id },
            { Key: "omnisecret:owner", Value: owner },
          ],
          ClientRequestToken: randomUUID(),
        }),
      );
    },
    async getSecretValues(id) {
      const result = await orNotFound(id, () => client.send(new GetSecretValueCommand({ SecretId: nameOf(id) })));
      return JSON.parse(result.SecretString as string);
    },
    async updateSecretValues(id, values) {
      await orNotFound(id, () =>
        client.send(
          new PutSecretValueCommand({
            SecretId: nameOf(id),
            SecretString: JSON.stringify(values),
            ClientRequestToken: randomUUID(),
          }),
        ),
      );
    },
    async deleteSecretValues(id) {
      const { ARN } = await orNotFound(id, () =>
        client.send(new DeleteSecretCommand({ SecretId: nameOf(id), RecoveryWindowInDays: 7 })),
      );
      await client.send(new DeleteSecretCommand({ SecretId: ARN, ForceDeleteWithoutRecovery: true }));
    },
    async close() {
      client.destroy();
    },
  };
  return side;
};
