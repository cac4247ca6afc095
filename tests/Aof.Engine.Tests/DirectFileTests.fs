module Aof.Engine.Tests.DirectFileTests

open System
open System.IO
open Xunit
open Aof.Engine

/// Writes `pieces` through a DirectFile, syncing the whole blocks after the pieces `syncAfter` picks, and
/// returns what the file holds; None where the file system has no O_DIRECT.
let private throughDirect (path: string) (pieces: byte[] list) (syncAfter: int -> bool) =
    match DirectFile.TryCreate path with
    | None -> None
    | Some file ->
        using file (fun f ->
            pieces |> List.iteri (fun i p ->
                f.Write(ReadOnlySpan p)
                if syncAfter i then f.SyncBlocks())

            f.Finish())

        Some(File.ReadAllBytes path)

[<Fact>]
let ``a direct file holds exactly the bytes written, whatever their sizes and syncs`` () =
    use dir = new AofSupport.Scratch "direct"
    let path = Path.Combine(dir.Path, "base.aof")
    // Around the 4 KiB block and the 1 MiB staging buffer: empty, one byte, exact multiples, and pieces
    // larger than the buffer.
    let sizes = [ 0; 1; 4095; 4096; 4097; 65536; 1 <<< 20; (1 <<< 20) + 1; (3 <<< 20) + 17; 100 ]

    for seed in 1..20 do
        let rng = Random seed
        let pieces = [ for _ in 1 .. rng.Next(1, 12) -> Array.init sizes[rng.Next sizes.Length] (fun _ -> byte (rng.Next 256)) ]
        let syncs = Array.init pieces.Length (fun _ -> rng.Next 3 = 0)

        match throughDirect path pieces (fun i -> syncs[i]) with
        | None -> ()
        | Some written -> Assert.Equal<byte[]>(Array.concat pieces, written)

[<Fact>]
let ``a direct file replaces what the path held`` () =
    use dir = new AofSupport.Scratch "direct"
    let path = Path.Combine(dir.Path, "base.aof")
    File.WriteAllBytes(path, Array.create 10000 (byte 'x'))

    match throughDirect path [ "*1\r\n$4\r\nPING\r\n"B ] (fun _ -> false) with
    | None -> ()
    | Some written -> Assert.Equal<byte[]>("*1\r\n$4\r\nPING\r\n"B, written)
