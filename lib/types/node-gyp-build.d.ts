declare module 'node-gyp-build' {
  function load(dir: string): any;
  export = load;
}
