package e2etest

// robustCases: inputs and client behaviours that once took the relay down
// or cut live sessions.
var robustCases = []suiteCase{}
