/**
 * The import rules between fedgate's folders (`npm run lint:deps`; `npm test`
 * runs it first). Each top-level folder is one process or one shared concern:
 * the gateway and the instance are sibling processes that share only the
 * contract, federation (pure topology code) and certs (identity); the
 * launcher starts them by path, never by import.
 */
const HERE = '^(contract|federation|certs|gateway|instances|deploy|drills|cli|bench|test)/';
const rule = (name, from, to, comment) => ({ name, severity: 'error', comment, from: { path: from }, to: { path: to } });

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'A cycle between modules (type-only imports included): move what both sides need into its own module.',
      from: {},
      to: { circular: true },
    },
    rule(
      'federation-is-pure',
      '^federation/',
      '^(contract|certs|gateway|instances|deploy|drills|cli|bench|test)/',
      'federation/ is pure topology code: it imports nothing else of fedgate.',
    ),
    rule(
      'contract-stands-alone',
      '^contract/',
      '^(certs|gateway|instances|deploy|drills|cli|bench|test)/',
      'contract/ is what crosses process boundaries; it may use federation/ only.',
    ),
    rule(
      'certs-is-identity',
      '^certs/',
      '^(contract|gateway|instances|deploy|drills|cli|bench|test)/',
      'certs/ (identity: CA, certificates, JWT keys) may use federation/ only.',
    ),
    rule(
      'gateway-not-instance',
      '^gateway/',
      '^(instances|deploy|drills|cli|bench|test)/',
      'The gateway and the instance are sibling processes: share code through contract/, federation/ or certs/.',
    ),
    rule(
      'instance-not-gateway',
      '^instances/',
      '^(gateway|deploy|drills|cli|bench|test)/',
      'The gateway and the instance are sibling processes: share code through contract/, federation/ or certs/.',
    ),
    rule(
      'deploy-starts-processes-by-path',
      '^deploy/',
      '^(contract|gateway|instances|drills|cli|bench|test)/',
      'The launcher starts the gateway and instance by path; it imports neither.',
    ),
    rule(
      'drills-use-the-launcher',
      '^drills/',
      '^(gateway|instances|cli|bench|test)/',
      'A drill drives a running federation through the launcher and HTTP, not through process internals.',
    ),
    rule('nothing-imports-the-cli', `^(contract|federation|certs|gateway|instances|deploy|drills)/`, '^cli/', 'cli/ is an entry point.'),
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve.',
      from: { path: HERE },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|\\.fedgate)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
