/**
 * AWS Secrets Manager by hand, with the requests the adapter sends: CreateSecret with the tags;
 * DescribeSecret (to check the tags) and then GetSecretValue, PutSecretValue or DeleteSecret on
 * the ARN it returned.
 */
import { randomUUID } from "node:crypto";
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
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
  const nameOf = (id: string) => `${prefix}/${id}`;

  async function describeOwned(id: string): Promise<string> {
    const described = await client.send(new DescribeSecretCommand({ SecretId: nameOf(id) }));
    const tag = (key: string) => described.Tags?.find((candidate) => candidate.Key === key)?.Value;
    if (described.DeletedDate || !described.ARN || tag("omnisecret:id") !== id || tag("omnisecret:owner") !== owner) {
      throw new NotFound(id);
    }
    return described.ARN;
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
      const arn = await describeOwned(id);
      const result = await client.send(new GetSecretValueCommand({ SecretId: arn }));
      return JSON.parse(result.SecretString as string);
    },
    async updateSecretValues(id, values) {
      const arn = await describeOwned(id);
      await client.send(
        new PutSecretValueCommand({
          SecretId: arn,
          SecretString: JSON.stringify(values),
          ClientRequestToken: randomUUID(),
        }),
      );
    },
    async deleteSecretValues(id) {
      const arn = await describeOwned(id);
      await client.send(new DeleteSecretCommand({ SecretId: arn, ForceDeleteWithoutRecovery: true }));
    },
    async close() {
      client.destroy();
    },
  };
  return side;
};
