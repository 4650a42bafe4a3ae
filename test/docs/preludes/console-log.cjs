// `log`: the application's logger.
const log = console;
