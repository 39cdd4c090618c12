// MSBuild task (compiled by RoslynCodeTaskFactory) that makes one ELF version requirement optional.
//
// Why: TorchSharp 0.107's libLibTorchSharp.so was linked against a libstdc++ that defines
// GLIBCXX_3.4.32 and records a requirement on it; Debian 12 ships 3.4.30, so the dynamic loader
// refuses the library. The only symbol bound to that version is std::ios_base_library_init(),
// which no relocation references, so the requirement can be marked weak (VER_FLG_WEAK) and the
// loader then accepts the library. We patch the copies in the build/publish output only, never
// the NuGet cache or system files, and only when the host's libstdc++ lacks the version.
using System;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class WeakenElfVersionNeed : Task
{
    /// <summary>Directory searched recursively for files named <see cref="FileName"/>.</summary>
    [Required] public string Directory { get; set; } = "";
    [Required] public string FileName { get; set; } = "";
    /// <summary>Version name to weaken, e.g. GLIBCXX_3.4.32.</summary>
    [Required] public string VersionName { get; set; } = "";
    /// <summary>Candidate paths of the host library that would define the version.</summary>
    [Required] public string HostLibraries { get; set; } = "";

    private const int SHT_GNU_verneed = 0x6ffffffe;
    private const ushort VER_FLG_WEAK = 0x2;

    public override bool Execute()
    {
        if (!System.IO.Directory.Exists(Directory)) return true;
        var targets = System.IO.Directory.GetFiles(Directory, FileName, SearchOption.AllDirectories);
        if (targets.Length == 0) return true;

        var host = HostLibraries.Split(';').Select(p => p.Trim()).FirstOrDefault(File.Exists);
        if (host == null)
        {
            Log.LogMessage(MessageImportance.Normal, $"No host libstdc++ found among '{HostLibraries}'; leaving {FileName} unchanged.");
            return true;
        }
        if (Contains(File.ReadAllBytes(host), Encoding.ASCII.GetBytes(VersionName + "\0")))
        {
            Log.LogMessage(MessageImportance.Low, $"{host} defines {VersionName}; {FileName} needs no patch.");
            return true;
        }

        foreach (var path in targets)
        {
            try
            {
                var bytes = File.ReadAllBytes(path);
                var changed = Weaken(bytes, VersionName, out var found);
                if (!found)
                {
                    Log.LogMessage(MessageImportance.Low, $"{path} does not require {VersionName}.");
                    continue;
                }
                if (!changed) continue; // already weak: idempotent rebuilds
                // Write a new file and move it over, so a hard link into the package cache is never modified.
                var tmp = path + ".weak.tmp";
                File.WriteAllBytes(tmp, bytes);
                File.Delete(path);
                File.Move(tmp, path);
                Log.LogMessage(MessageImportance.High, $"TorchSharp native patch: marked {VersionName} weak in {path} (host {host} lacks it).");
            }
            catch (Exception ex)
            {
                Log.LogError($"Could not patch {path}: {ex.Message}");
                return false;
            }
        }
        return true;
    }

    private static bool Contains(byte[] hay, byte[] needle)
    {
        for (int i = 0; i <= hay.Length - needle.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && hay[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }

    /// <summary>Sets VER_FLG_WEAK on every Vernaux entry named <paramref name="version"/>.</summary>
    /// <returns>true when a byte changed.</returns>
    private static bool Weaken(byte[] elf, string version, out bool found)
    {
        found = false;
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("only 64-bit little-endian ELF is supported");

        long shoff = (long)BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        bool changed = false;
        for (int s = 0; s < shnum; s++)
        {
            long sh = shoff + (long)s * shentsize;
            if (BitConverter.ToUInt32(elf, (int)sh + 4) != SHT_GNU_verneed) continue;
            long offset = (long)BitConverter.ToUInt64(elf, (int)sh + 0x18);
            int link = (int)BitConverter.ToUInt32(elf, (int)sh + 0x28);
            long strOffset = (long)BitConverter.ToUInt64(elf, (int)(shoff + (long)link * shentsize) + 0x18);

            long vn = offset;
            while (true)
            {
                int cnt = BitConverter.ToUInt16(elf, (int)vn + 2);
                long aux = vn + BitConverter.ToUInt32(elf, (int)vn + 8);
                for (int a = 0; a < cnt; a++)
                {
                    long nameOff = strOffset + BitConverter.ToUInt32(elf, (int)aux + 8);
                    int end = Array.IndexOf(elf, (byte)0, (int)nameOff);
                    var name = Encoding.ASCII.GetString(elf, (int)nameOff, end - (int)nameOff);
                    if (name == version)
                    {
                        found = true;
                        ushort flags = BitConverter.ToUInt16(elf, (int)aux + 4);
                        if ((flags & VER_FLG_WEAK) == 0)
                        {
                            flags |= VER_FLG_WEAK;
                            elf[aux + 4] = (byte)(flags & 0xff);
                            elf[aux + 5] = (byte)(flags >> 8);
                            changed = true;
                        }
                    }
                    uint nextAux = BitConverter.ToUInt32(elf, (int)aux + 12);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
                uint next = BitConverter.ToUInt32(elf, (int)vn + 12);
                if (next == 0) break;
                vn += next;
            }
        }
        return changed;
    }
}
