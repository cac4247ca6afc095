module Aof.Engine.Tests.ConfigTests

open Xunit
open Aof.Engine

[<Fact>]
let ``the embedded default serves on 127.0.0.1:6379`` () =
    Assert.Equal(6379, Config.defaults.Port)
    Assert.Equal<string[]>([| "127.0.0.1" |], Config.defaults.Bind)
