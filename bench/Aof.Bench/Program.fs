module Aof.Bench.Program

// PLACEHOLDER: the CHAMP helper writes the BenchmarkDotNet suites here.

[<EntryPoint>]
let main _ = 0
