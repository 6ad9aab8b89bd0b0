import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Network partitions between sites on one machine: each site runs in a
 * network namespace of its own, joined to the host by a veth pair, and the
 * host routes between them (IPv4 forwarding). Site i's address is
 * 10.<subnet>.<i>.2 inside its namespace; the host end is 10.<subnet>.<i>.1.
 * A partition is a drop rule in the host's forward hook (an nftables table
 * of this lab's own), so every process keeps running while the packets
 * between two sites are lost, in one direction or in both. Tools and tests
 * on the host reach every site as before (host ↔ namespace traffic is not
 * forwarded, so no rule touches it).
 *
 * Needs root (CAP_NET_ADMIN), iproute2 and nftables; `netnsSupport()` says
 * what is missing instead.
 */
export interface NetnsLab {
  readonly name: string;
  /** The namespace each site's processes run in. */
  readonly namespaces: Record<string, string>;
  /** Each site's address inside its namespace. */
  readonly addresses: Record<string, string>;
  /** Drops packets from `from` to `to`, and with `both` also from `to` to `from`. */
  partition(from: string, to: string, direction: 'both' | 'one-way'): Promise<void>;
  /** Removes every drop rule. */
  heal(): Promise<void>;
  /** The rules in force, as nft lists them (for reports). */
  rules(): Promise<string[]>;
  /** Deletes the namespaces, veth pairs and the nftables table. */
  destroy(): Promise<void>;
}

/** iproute2's `ip` (the launcher also runs `ip netns exec` with it). */
export const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p)) ?? 'ip';
const NFT = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].find((p) => existsSync(p)) ?? 'nft';

async function sh(command: string, args: string[]): Promise<string> {
  try {
    return (await run(command, args, { timeout: 15_000 })).stdout;
  } catch (err) {
    const stderr = `${(err as { stderr?: string }).stderr ?? ''}`.trim();
    throw new Error(`${command} ${args.join(' ')}: ${stderr || (err as Error).message}`);
  }
}

/** Null when namespaces, veth pairs and nftables work here; else why not and what to install or change. */
export async function netnsSupport(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'network namespaces need root (CAP_NET_ADMIN); run as root or in a VM/container that grants it';
  for (const [tool, path, pkg] of [
    ['ip', IP, 'iproute2'],
    ['nft', NFT, 'nftables'],
  ] as const) {
    if (!existsSync(path)) return `${tool} is missing: apt-get install ${pkg}`;
  }
  const probe = `fgprobe${process.pid % 100_000}`;
  try {
    await sh(IP, ['netns', 'add', probe]);
    await sh(IP, ['netns', 'del', probe]);
    await sh(NFT, ['list', 'tables']);
    return null;
  } catch (err) {
    await sh(IP, ['netns', 'del', probe]).catch(() => {});
    return `this machine does not allow network namespaces or nftables: ${(err as Error).message}`;
  }
}

/**
 * Creates the lab: one namespace per site (`fg<subnet>-<site>`), its veth
 * pair and addresses, forwarding on the host, and the nftables table
 * `fedgate_lab_<subnet>` with an empty forward chain. A lab of the same
 * subnet left by a killed run is removed first.
 */
export async function createNetnsLab(options: { subnet: number; sites: string[]; log?: (line: string) => void }): Promise<NetnsLab> {
  const { subnet, sites } = options;
  if (!Number.isInteger(subnet) || subnet < 1 || subnet > 254) throw new Error(`subnet must be 1-254 (10.<subnet>.x.x), got ${subnet}`);
  if (sites.length > 250) throw new Error('at most 250 sites');
  const table = `fedgate_lab_${subnet}`;
  const namespaces = Object.fromEntries(sites.map((s) => [s, `fg${subnet}-${s}`.slice(0, 40)]));
  const addresses = Object.fromEntries(sites.map((s, i) => [s, `10.${subnet}.${i + 1}.2`]));
  const hostEnd = (i: number) => `fg${subnet}h${i + 1}`;
  const siteEnd = (i: number) => `fg${subnet}s${i + 1}`;

  async function destroy(): Promise<void> {
    await sh(NFT, ['delete', 'table', 'inet', table]).catch(() => {});
    for (const [i, s] of sites.entries()) {
      await sh(IP, ['netns', 'del', namespaces[s]!]).catch(() => {});
      await sh(IP, ['link', 'del', hostEnd(i)]).catch(() => {});
    }
  }
  await destroy();
  try {
    await sh('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']).catch(async () => {
      const { writeFileSync } = await import('node:fs');
      writeFileSync('/proc/sys/net/ipv4/ip_forward', '1\n');
    });
    for (const [i, s] of sites.entries()) {
      const ns = namespaces[s]!;
      await sh(IP, ['netns', 'add', ns]);
      await sh(IP, ['link', 'add', hostEnd(i), 'type', 'veth', 'peer', 'name', siteEnd(i)]);
      await sh(IP, ['link', 'set', siteEnd(i), 'netns', ns]);
      await sh(IP, ['addr', 'add', `10.${subnet}.${i + 1}.1/24`, 'dev', hostEnd(i)]);
      await sh(IP, ['link', 'set', hostEnd(i), 'up']);
      await sh(IP, ['-n', ns, 'addr', 'add', `${addresses[s]}/24`, 'dev', siteEnd(i)]);
      await sh(IP, ['-n', ns, 'link', 'set', siteEnd(i), 'up']);
      await sh(IP, ['-n', ns, 'link', 'set', 'lo', 'up']);
      await sh(IP, ['-n', ns, 'route', 'add', 'default', 'via', `10.${subnet}.${i + 1}.1`]);
      options.log?.(`lab: ${s} in namespace ${ns} at ${addresses[s]}`);
    }
    await sh(NFT, ['add', 'table', 'inet', table]);
    await sh(NFT, ['add', 'chain', 'inet', table, 'forward', '{ type filter hook forward priority 0 ; policy accept ; }']);
  } catch (err) {
    await destroy();
    throw err;
  }

  const addressOf = (site: string) => {
    const a = addresses[site];
    if (!a) throw new Error(`no site "${site}" in the lab (${sites.join(', ')})`);
    return a;
  };
  return {
    name: table,
    namespaces,
    addresses,
    async partition(from, to, direction) {
      const pairs = direction === 'both' ? [[from, to] as const, [to, from] as const] : [[from, to] as const];
      for (const [a, b] of pairs) {
        await sh(NFT, ['add', 'rule', 'inet', table, 'forward', 'ip', 'saddr', addressOf(a), 'ip', 'daddr', addressOf(b), 'counter', 'drop']);
      }
      options.log?.(`lab: partition ${from} ${direction === 'both' ? '<->' : '->'} ${to}`);
    },
    async heal() {
      await sh(NFT, ['flush', 'chain', 'inet', table, 'forward']);
      options.log?.('lab: healed');
    },
    async rules() {
      const out = await sh(NFT, ['list', 'chain', 'inet', table, 'forward']);
      return out
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.startsWith('ip saddr'));
    },
    destroy,
  };
}
