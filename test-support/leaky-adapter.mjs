// A custom adapter whose provider "fails" with an error that quotes the values it was given,
// as a careless SDK might: the CLI must still never print them.
export default function createLeakyAdapter() {
  const fail = async (id, values) => {
    const inner = new Error(`backend rejected payload ${JSON.stringify(values)}`);
    throw new Error(`request for ${id} failed`, { cause: inner });
  };
  return {
    provider: "leaky",
    maxValueBytes: 65_536,
    storeSecretValues: fail,
    getSecretValues: fail,
    updateSecretValues: fail,
    deleteSecretValues: fail,
  };
}
