module Aof.Core.Tests.Smoke

open Xunit
open Aof.Core

[<Fact>]
let ``byte strings compare by content`` () =
    Assert.True(Bytes.equal (Bytes.ofString "abc") (Bytes.ofString "abc"))
    Assert.False(Bytes.equal (Bytes.ofString "abc") (Bytes.ofString "abd"))

[<Fact>]
let ``integers parse as Redis's string2ll does, at every length`` () =
    let parse (s: string) = Num.tryParseInt64 (Bytes.ofString s)
    Assert.Equal(ValueSome 0L, parse "0")
    Assert.Equal(ValueSome -7L, parse "-7")
    Assert.Equal(ValueSome 999999999999999999L, parse "999999999999999999")
    Assert.Equal(ValueSome System.Int64.MaxValue, parse "9223372036854775807")
    Assert.Equal(ValueSome System.Int64.MinValue, parse "-9223372036854775808")

    for bad in [ ""; "-"; "-0"; "01"; "+1"; " 1"; "1 "; "1a"; "9223372036854775808"; "-9223372036854775809"; "12345678901234567x" ] do
        Assert.Equal(ValueNone, parse bad)

    for n in [ 1L; 12L; -123456789L; 100000000000000000L; -999999999999999999L ] do
        Assert.Equal(ValueSome n, parse (string n))
        Assert.Equal(string n, Bytes.toString (Num.formatInt64 n))
