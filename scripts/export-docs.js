#!/usr/bin/env node
'use strict';
// Runs after tsc (npm run compile). The public entry exports its values
// lazily (lib/index.ts): `export let setKeepAlive: typeof Kernel.setKeepAlive`,
// a getter filled in on first use. An editor shows the doc comment of that
// `let`, which has none, so here each such declaration in dist/index.d.ts
// gets a copy of the doc comment of the declaration it stands for, taken
// from that module's .d.ts. The doc is written once, where the code is;
// test/docs/tsdoc.test.ts checks that every export ends up with one.
const { readFileSync, writeFileSync } = require('node:fs');
const { dirname, join, resolve } = require('node:path');
const ts = require('typescript');

const DIST = join(__dirname, '..', 'dist');

function parse(file) {
  return ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
}

/** The `/** … *\/` comment right above `node`, or undefined. */
function docComment(source, node) {
  const ranges = ts.getLeadingCommentRanges(source.text, node.pos) ?? [];
  const last = ranges[ranges.length - 1];
  const text = last && source.text.slice(last.pos, last.end);
  return text && text.startsWith('/**') ? text : undefined;
}

function declaredName(statement) {
  if (ts.isVariableStatement(statement)) return statement.declarationList.declarations[0].name.getText();
  return statement.name && ts.isIdentifier(statement.name) ? statement.name.text : undefined;
}

const docsCache = new Map();
/** name → doc comment of each documented top-level declaration of a .d.ts. */
function docsOf(file) {
  if (docsCache.has(file)) return docsCache.get(file);
  const source = parse(file);
  const docs = new Map();
  for (const statement of source.statements) {
    if (ts.isExportDeclaration(statement) && statement.moduleSpecifier && statement.exportClause && ts.isNamedExports(statement.exportClause)) {
      // export { DEFAULT_TIMING } from './options': the doc is where it is declared
      const from = resolve(dirname(file), `${statement.moduleSpecifier.text}.d.ts`);
      for (const element of statement.exportClause.elements) {
        const doc = docsOf(from).get((element.propertyName ?? element.name).text);
        if (doc && !docs.has(element.name.text)) docs.set(element.name.text, doc);
      }
      continue;
    }
    const name = declaredName(statement);
    const doc = name && docComment(source, statement);
    if (doc && !docs.has(name)) docs.set(name, doc);
  }
  docsCache.set(file, docs);
  return docs;
}

function addDocs(entry) {
  const source = parse(entry);
  const modules = new Map(); // namespace alias → module .d.ts
  for (const statement of source.statements) {
    const clause = ts.isImportDeclaration(statement) && statement.importClause;
    if (clause && clause.namedBindings && ts.isNamespaceImport(clause.namedBindings)) {
      modules.set(clause.namedBindings.name.text, resolve(dirname(entry), `${statement.moduleSpecifier.text}.d.ts`));
    }
  }
  const insertions = []; // [position, text], applied back to front
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement) || docComment(source, statement)) continue;
    const type = statement.declarationList.declarations[0].type;
    if (!type || !ts.isTypeQueryNode(type) || !ts.isQualifiedName(type.exprName)) continue;
    const file = modules.get(type.exprName.left.getText());
    const doc = file && docsOf(file).get(type.exprName.right.text);
    if (doc) insertions.push([statement.getStart(source), `${doc.replace(/\n\s*/g, '\n ')}\n`]);
  }
  let text = source.text;
  for (const [position, doc] of insertions.reverse()) text = text.slice(0, position) + doc + text.slice(position);
  writeFileSync(entry, text);
  return insertions.length;
}

const added = addDocs(join(DIST, 'index.d.ts'));
if (process.argv.includes('--verbose')) console.log(`export-docs: ${added} doc comments copied into dist/index.d.ts`);
