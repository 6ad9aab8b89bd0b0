import { fetchDebezium, fetchKafka } from '../../deploy/index.ts';
import { type Command, parse, pathsFrom, UsageError } from '../context.ts';

export const kafkaCommand: Command = {
  name: 'kafka',
  usage: `  kafka fetch              fetch Apache Kafka's and Debezium's jars from Maven Central (once)`,
  async run(args, { env, out }) {
    const { positionals, values } = parse(args, {});
    if (positionals[0] !== 'fetch') throw new UsageError('`kafka` takes one subcommand: `fetch`');
    const stateDir = pathsFrom(values, env).stateDir;
    const result = await fetchKafka(stateDir, out.info);
    if (!result.fetched) out.info(`Kafka ${result.version} is already fetched (${result.jars} jars in ${result.libDir}); nothing to do`);
    const debezium = await fetchDebezium(stateDir, out.info);
    out.info(`Debezium ${debezium.version} is in ${debezium.pluginPath}`);
    return 0;
  },
};
