export { main, buildProgram } from "./main.js";
export { classifyCommand } from "./classify-command.js";
