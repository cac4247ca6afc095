module Aof.Core.Tests.Smoke

open Xunit
open Aof.Core

[<Fact>]
let ``byte strings compare by content`` () =
    Assert.True(Bytes.equal (Bytes.ofString "abc") (Bytes.ofString "abc"))
    Assert.False(Bytes.equal (Bytes.ofString "abc") (Bytes.ofString "abd"))
