/// LIVE TESTS against the real redis-check-aof (7.0): the same files, the same flags and stdin, and the
/// same output (pid, time and temp directory aside), exit code, ok_up_to and files afterwards. Without
/// redis-check-aof they note why in the output and pass, except under CI=true, where they fail.
module Aof.Cli.Tests.AgreementTests

open System.Threading
open Xunit
open Xunit.Abstractions
open FsCheck
open FsCheck.FSharp
open Aof.Cli.Tests.Support

let private law (maxTest: int) (arb: Arbitrary<'T>) (prop: 'T -> bool) =
    FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest maxTest, Prop.forAll arb prop)

let private single = "appendonly.aof"

/// A multi-part AOF: the manifest's name, and the files (manifest included).
let private multiPart (baseFile: byte[] option) (incrs: byte[] list) =
    let baseName = "appendonly.aof.1.base.aof"
    let incrName i = sprintf "appendonly.aof.%d.incr.aof" (i + 1)

    let manifest =
        [ match baseFile with
          | Some _ -> yield sprintf "file %s seq 1 type b\n" baseName
          | None -> ()
          yield "file appendonly.aof.0.base.aof seq 1 type h\n"
          for i in 0 .. incrs.Length - 1 do
              yield sprintf "file %s seq %d type i\n" (incrName i) (i + 1) ]
        |> String.concat ""

    let files =
        [ yield "appendonly.aof.manifest", bytes manifest
          match baseFile with
          | Some b -> yield baseName, b
          | None -> ()
          yield! incrs |> List.mapi (fun i c -> incrName i, c) ]

    "appendonly.aof.manifest", files

type Agreement(output: ITestOutputHelper) =
    let tally = Array.zeroCreate<int> 3

    let count (rc: int, text: string) =
        Interlocked.Increment(&tally[min rc 1]) |> ignore
        if text.Contains "Successfully truncated" then Interlocked.Increment(&tally[2]) |> ignore

    let report what =
        output.WriteLine(sprintf "%s: %d valid or fixed (exit 0), %d not (exit 1), %d truncated" what tally[0] tally[1] tally[2])

    [<Fact>]
    member _.``every cut of a small file agrees, torn MULTI and annotations included``() =
        if requireRedis output then
            let file =
                Array.concat
                    [ cmd [ "SELECT"; "0" ]
                      bytes "#TS:1700000000\r\n"
                      cmd [ "SET"; "a"; "b" ]
                      transaction [ cmd [ "SET"; "k"; "1" ]; cmd [ "INCRBY"; "k"; "10" ] ]
                      cmd [ "PING" ]
                      bytes "#TS:1700000001\r\n" ]

            for cut in 0 .. file.Length do
                agree [ single, file[.. cut - 1] ] single [] "" |> count

            report "cuts"

    [<Fact>]
    member _.``property: intact, truncated, garbage-inserted and open-MULTI files agree``() =
        if requireRedis output then
            let fix = Gen.elements [ [], ""; [], ""; [ "--fix" ], "y\n" ]

            law 150 (Arb.fromGen (Gen.zip3 Gens.pieces (Damage.gen Gens.garbage) fix)) (fun (pieces, damage, (flags, answer)) ->
                agree [ single, Damage.apply damage (Array.concat pieces) ] single flags answer |> count
                true)

            report "single files"

    [<Fact>]
    member _.``property: multi-part AOFs agree, with --fix answered y or n``() =
        if requireRedis output then
            let arb =
                Arb.fromGen (
                    gen {
                        let! baseFile = Gen.frequency [ 3, Gens.pieces |> Gen.map (Array.concat >> Some); 1, Gen.constant (Some [||]); 1, Gen.constant None ]
                        let! n = Gen.choose (0, 3)
                        let! incrs = Gen.listOfLength n (Gen.frequency [ 4, Gens.pieces |> Gen.map Array.concat; 1, Gen.constant [||] ])
                        let! victim = Gen.choose (0, n)
                        let! damage = Damage.gen Gens.garbage
                        let! flags, answer = Gen.elements [ [], ""; [ "--fix" ], "y\n"; [ "--fix" ], "n\n"; [ "--fix" ], "Yes\n" ]
                        return baseFile, incrs, victim, damage, flags, answer
                    }
                )

            law 100 arb (fun (baseFile, incrs, victim, damage, flags, answer) ->
                // One of the live files (base first) is damaged.
                let live = Option.toList baseFile @ incrs
                let damaged = live |> List.mapi (fun i c -> if i = victim % max 1 live.Length then Damage.apply damage c else c)

                let baseFile, incrs =
                    match baseFile with
                    | Some _ -> Some(List.head damaged), List.tail damaged
                    | None -> None, damaged

                let target, files = multiPart baseFile incrs
                agree files target flags answer |> count
                true)

            report "multi-part"

    [<Fact>]
    member _.``property: any bytes inserted, the two agree or aof is the stricter``() =
        if requireRedis output then
            let mutable stricter = 0

            let arb =
                Arb.fromGen (Gen.zip Gens.commands (Gen.zip (Gen.choose (0, 1000)) Gens.anyBytes))

            law 100 arb (fun (pieces, (at, junk)) ->
                let file = Damage.apply (Insert(float at / 1000.0, junk)) (Array.concat pieces)
                let r = runBoth [ single, file ] single [] ""

                if r.Theirs <> r.Ours then
                    // Only where our reader refuses a header strtol takes: never further than Redis.
                    let ours = snd r.Ours
                    let theirs = snd r.Theirs

                    if not (ours.Contains "Rejected by aof") || List.head (okUpTo ours) > List.head (okUpTo theirs) then
                        failwith (r.Describe())

                    Interlocked.Increment &stricter |> ignore

                true)

            output.WriteLine(sprintf "%d of 100 files were refused by aof's stricter reader alone" stricter)

    [<Fact>]
    member _.``property: --truncate-to-timestamp agrees on single files and multi-part AOFs``() =
        if requireRedis output then
            // Times from a small range, so targets fall before, between and after them; now and then an
            // annotation that is not a time, or not a #TS: at all.
            let stamp =
                Gen.frequency
                    [ 8, Gen.choose (1, 9) |> Gen.map (fun t -> bytes (sprintf "#TS:%d\r\n" (t * 100)))
                      1,
                      Gen.elements
                          [ bytes "#TS:\r\n"; bytes "#TS:12x\r\n"; bytes "#TS: +300\r\n"; bytes "#TS:400\n"
                            bytes "#other\r\n"; bytes "#TS:99999999999999999999\r\n" ] ]

            let file =
                Gen.choose (0, 8)
                |> Gen.bind (fun n -> Gen.listOfLength n (Gen.frequency [ 4, Gens.plainCommand; 1, Gens.transactionPiece; 3, stamp ]))
                |> Gen.map Array.concat

            let target =
                Gen.frequency
                    [ 8, Gen.choose (0, 10) |> Gen.map (fun t -> string (t * 100 + 50))
                      1, Gen.elements [ "0"; "-1"; "100"; "abc"; ""; " 250"; "12x"; "99999999999999999999" ] ]

            let arb =
                Arb.fromGen (
                    gen {
                        let! files = Gen.choose (1, 4) |> Gen.bind (fun n -> Gen.listOfLength n file)
                        let! damage = Gen.frequency [ 4, Gen.constant Intact; 1, Damage.gen Gens.garbage ]
                        let! multi = Gen.elements [ true; false ]
                        let! target = target
                        return files, damage, multi, target
                    }
                )

            law 150 arb (fun (files, damage, multi, target) ->
                let flags = [ "--truncate-to-timestamp"; target ]

                if multi then
                    let damaged = files |> List.mapi (fun i f -> if i = files.Length - 1 then Damage.apply damage f else f)
                    let name, all = multiPart (Some(List.head damaged)) (List.tail damaged)
                    agree all name flags "" |> count
                else
                    agree [ single, Damage.apply damage (List.head files) ] single flags "" |> count

                true)

            report "truncated to a timestamp"

    [<Fact>]
    member _.``manifest errors agree, log prefix aside``() =
        if requireRedis output then
            let ping = cmd [ "PING" ]

            for manifest in
                [ "file b.aof seq 1 type b\nfile"
                  "# c\nfile b.aof seq 1 type b\n\n"
                  "file b.aof seq 1 type b\nfile b.aof seq 2 type b\n"
                  "file b.aof seq 1 type i\nfile c.aof seq 1 type i\n"
                  "file b.aof seq 1 type x\n"
                  "file a/b.aof seq 1 type b\n"
                  "file b.aof seq x type b\n"
                  "file b.aof seq 1 type b k\n"
                  "filex\n"
                  "file b.aof seq 1 type h\n"
                  "# only history\nfile b.aof seq 1 type h\nfile c.aof seq 2 type i\n" ] do
                agree [ "m.manifest", bytes manifest; "b.aof", ping; "c.aof", ping ] "m.manifest" [] "" |> count

            // An AOF holding "filename" on a line of its own is taken for a manifest by redis-check-aof.
            agree [ single, cmd [ "SET"; "k"; "filename" ] ] single [] "" |> count
            report "manifests"

    [<Fact>]
    member _.``missing, empty and unreadable files agree``() =
        if requireRedis output then
            let ping = cmd [ "PING" ]
            Assert.Equal(0, agree [ single, [||] ] single [] "" |> fst)
            Assert.Equal(1, agree [ "other", ping ] single [] "" |> fst)
            // A missing base, a missing incr.
            Assert.Equal(1, agree [ "m.manifest", bytes "file nob.aof seq 1 type b\n" ] "m.manifest" [] "" |> fst)
            Assert.Equal(1, agree [ "m.manifest", bytes "file b.aof seq 1 type b\nfile i.aof seq 1 type i\n"; "b.aof", ping ] "m.manifest" [] "" |> fst)
            // A directory opens but does not read.
            use dir = new TempDir()
            let theirs = runRedis [ dir.Path ] ""
            let ours = runOurs [ "check"; dir.Path ] ""
            Assert.Equal(theirs, ours)
