// Types of scripts/test-requirements.mjs, for the TypeScript tests that import it.
export interface Requirement {
  readonly what: string;
  readonly command: string;
  readonly probe?: readonly string[];
  readonly package: string;
}
export interface Suite {
  readonly dirs: readonly string[];
  readonly suffix: string;
  readonly requires: readonly string[];
}
export interface Missing {
  readonly name: string;
  readonly package: string;
  readonly reason: 'not-installed' | 'not-running';
}
export interface Machine {
  readonly uid: number;
  readonly debian: boolean;
  readonly aptGet: boolean;
}
type Env = Readonly<Record<string, string | undefined>>;
export const ROOT: string;
export const INSTALL_DEPS: string;
export const REQUIREMENTS: Readonly<Record<string, Requirement>>;
export const SUITES: Readonly<Record<string, Suite>>;
export function findOnPath(command: string, pathEnv: string | undefined): string | undefined;
export function requirementsOf(
  suiteNames: readonly string[],
  suites?: Readonly<Record<string, Suite>>,
): string[];
export function missingRequirements(names: readonly string[], env?: Env): Missing[];
export function canInstall(machine: Machine): boolean;
export function thisMachine(env?: Env): Machine;
export function missingLine(
  missing: readonly Missing[],
  suiteNames: readonly string[],
  machine: Machine,
): string;
export function ensureRequirements(
  suiteNames: readonly string[],
  env?: Env,
  machine?: Machine,
): string | undefined;
