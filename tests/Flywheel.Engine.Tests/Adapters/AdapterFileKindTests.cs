using System.Runtime.InteropServices;
using Flywheel.Adapters;
using Flywheel.Models;
using Flywheel.Models.Import;

namespace Flywheel.Engine.Tests.Adapters;

/// <summary>
/// An adapter folder's files that are not what they claim (a huge config, a FIFO, a device behind a link):
/// refused naming the file, without reading without end or waiting for a writer. The runtime load route
/// reads folders a client names, so a mistake there must stay a 400, not a 500, a hang or gigabytes.
/// Linux only (mkfifo, /dev/zero), as the project's CI and containers are.
/// </summary>
public sealed class AdapterFileKindTests
{
    private const int MaxRank = 64;

    [Fact]
    public void AConfigOverOneMebibyteIsRefusedNamingItsSize()
    {
        var dir = AdapterFolder.Write(AdapterFolder.Config(rank: 4));
        var path = Path.Combine(dir, PeftAdapterConfig.FileName);
        var text = File.ReadAllText(path);
        File.WriteAllText(path, text.TrimEnd().TrimEnd('}') + new string(' ', 2 << 20) + "}");

        var e = Assert.Throws<ModelConfigException>(() => PeftAdapter.Load(dir, AdapterFolder.Shape, MaxRank));
        Assert.Contains(path, e.Message);
        Assert.Contains("1 MiB", e.Message);
    }

    [Fact]
    public async Task AConfigThatIsAFifoIsRefusedWithoutWaitingForAWriter()
    {
        var dir = AdapterFolder.Write(AdapterFolder.Config(rank: 4));
        var path = Path.Combine(dir, PeftAdapterConfig.FileName);
        File.Delete(path);
        Assert.Equal(0, MakeFifo(path, Convert.ToUInt32("644", 8)));

        var load = Task.Run(() => Assert.Throws<ModelConfigException>(() => PeftAdapter.Load(dir, AdapterFolder.Shape, MaxRank)));
        try
        {
            // A reader that opens a FIFO waits for a writer: the load must not open it at all.
            var e = await load.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Contains(path, e.Message);
        }
        finally
        {
            if (!load.IsCompleted)
            {
                File.WriteAllText(path, "{}"); // lets the blocked reader go
            }
        }
    }

    [Theory]
    [InlineData(PeftAdapter.WeightsFileName)]
    [InlineData(PeftAdapterConfig.FileName)]
    public void AFileLinkedToADeviceIsRefusedUnreadNamingIt(string name)
    {
        var dir = AdapterFolder.Write(AdapterFolder.Config(rank: 4));
        var path = Path.Combine(dir, name);
        File.Delete(path);
        File.CreateSymbolicLink(path, "/dev/zero");

        var e = Assert.Throws<ModelConfigException>(() => PeftAdapter.Load(dir, AdapterFolder.Shape, MaxRank));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void WeightsWithAHeaderOverTheFormatsLimitAreRefusedUnparsed()
    {
        var dir = AdapterFolder.Write(AdapterFolder.Config(rank: 4));
        var path = Path.Combine(dir, PeftAdapter.WeightsFileName);
        using (var file = new FileStream(path, FileMode.Create))
        {
            // A header length one past the limit, in a sparse file long enough to hold it.
            file.Write(BitConverter.GetBytes((long)SafetensorsFile.MaxHeaderBytes + 1));
            file.Write("{\"a\":\""u8);
            file.SetLength(8 + SafetensorsFile.MaxHeaderBytes + 16);
        }

        var e = Assert.Throws<ModelConfigException>(() => PeftAdapter.Load(dir, AdapterFolder.Shape, MaxRank));
        Assert.Contains(path, e.Message);
        Assert.Contains("limit of 100000000 bytes", e.Message);
    }

    [Fact]
    public void WeightsWhoseHeaderIsNotJsonAreRefusedNamingTheFile()
    {
        var dir = AdapterFolder.Write(AdapterFolder.Config(rank: 4));
        var path = Path.Combine(dir, PeftAdapter.WeightsFileName);
        using (var file = new FileStream(path, FileMode.Create))
        {
            file.Write(BitConverter.GetBytes(16L));
            file.Write("{\"a\":\"\0\0\0\0\0\0\0\0\0\0"u8);
        }

        var e = Assert.Throws<ModelConfigException>(() => PeftAdapter.Load(dir, AdapterFolder.Shape, MaxRank));
        Assert.Contains(path, e.Message);
    }

    [Theory]
    [InlineData("""[1,2]""")]
    [InlineData("""{"t":"x"}""")]
    [InlineData("""{"t":{"shape":[2],"data_offsets":[0,8]}}""")]
    [InlineData("""{"t":{"dtype":7,"shape":[2],"data_offsets":[0,8]}}""")]
    [InlineData("""{"t":{"dtype":"F32","shape":["a"],"data_offsets":[0,8]}}""")]
    [InlineData("""{"t":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}""")]
    [InlineData("""{"t":{"dtype":"F32","shape":[1e30],"data_offsets":[0,8]}}""")]
    [InlineData("""{"t":{"dtype":"F32","shape":[2],"data_offsets":"x"}}""")]
    [InlineData("""{"t":{"dtype":"F32","shape":[2],"data_offsets":[8]}}""")]
    [InlineData("""{"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}""")]
    public void WeightsWithAMalformedHeaderEntryAreRefusedNamingTheFile(string header)
    {
        var dir = AdapterFolder.Write(AdapterFolder.Config(rank: 4));
        var path = Path.Combine(dir, PeftAdapter.WeightsFileName);
        var bytes = System.Text.Encoding.UTF8.GetBytes(header);
        using (var file = new FileStream(path, FileMode.Create))
        {
            file.Write(BitConverter.GetBytes((long)bytes.Length));
            file.Write(bytes);
            file.Write(new byte[8]);
        }

        var e = Assert.Throws<ModelConfigException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Contains(path, e.Message);
    }

    [DllImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    private static extern int MakeFifo([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode);
}
