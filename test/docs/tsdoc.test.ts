// Editors show a symbol's doc comment on hover, from the package's built
// typings. Every name the public entry points export (package.json
// "exports": tcp-keepalive, /harness, /register, /otel) must carry one, in
// the .d.ts users get: read here with the TypeScript compiler, following
// re-exports to the declaration an editor shows.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/paths';

interface ExportEntry {
  types: string;
}

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, ExportEntry | string> };
/** subpath → .d.ts file, for every entry that has types. */
const entries = Object.entries(manifest.exports)
  .filter((entry): entry is [string, ExportEntry] => typeof entry[1] === 'object' && 'types' in entry[1])
  .map(([subpath, entry]) => ({ subpath: subpath === '.' ? 'tcp-keepalive' : `tcp-keepalive/${subpath.slice(2)}`, file: join(ROOT, entry.types) }));

function program(files: string[]): ts.Program {
  return ts.createProgram(files, { noEmit: true, skipLibCheck: true, types: ['node'], module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 });
}

/** The symbol an editor documents for an export: an alias (re-export) resolved to what it names. */
function target(checker: ts.TypeChecker, symbol: ts.Symbol): ts.Symbol {
  return symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
}

function documentation(checker: ts.TypeChecker, symbol: ts.Symbol): string {
  return ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
}

/** The names `file` exports whose declaration (re-exports resolved) has no doc comment. */
function undocumented(file: string): string[] {
  const built = program([file]);
  const checker = built.getTypeChecker();
  const sourceFile = built.getSourceFile(file);
  if (!sourceFile) throw new Error(`${file} is not built: run npm run compile`);
  const moduleSymbol = checker.getSymbolAtLocation(sourceFile);
  const exports = moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : [];
  return exports.filter((exported) => !documentation(checker, target(checker, exported))).map((exported) => exported.name).sort();
}

/** For each exported interface or class: its public members without a doc comment, as `Type.member`. */
function undocumentedMembers(file: string): string[] {
  const built = program([file]);
  const checker = built.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(built.getSourceFile(file)!);
  const missing: string[] = [];
  for (const exported of moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : []) {
    const symbol = target(checker, exported);
    if (!(symbol.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.Class))) continue;
    for (const member of checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol))) {
      const declarations = member.declarations ?? [];
      // Members inherited from Node's or a library's types are theirs to document.
      if (declarations.some((d) => d.getSourceFile().fileName.includes('/node_modules/'))) continue;
      const hidden = declarations.some((d) => ts.getCombinedModifierFlags(d) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected));
      if (!hidden && !documentation(checker, member)) missing.push(`${exported.name}.${member.name}`);
    }
  }
  return missing.sort();
}

describe('doc comments in the built typings', () => {
  it('finds the entry points in package.json exports', () => {
    expect(entries.map((entry) => entry.subpath)).toEqual(expect.arrayContaining(['tcp-keepalive', 'tcp-keepalive/harness', 'tcp-keepalive/register', 'tcp-keepalive/otel']));
  });

  for (const { subpath, file } of entries) {
    it(`every export of ${subpath} has a doc comment`, () => {
      expect(undocumented(file)).toEqual([]);
    });

    it(`every public member of the interfaces and classes ${subpath} exports has a doc comment`, () => {
      expect(undocumentedMembers(file)).toEqual([]);
    });
  }
});
