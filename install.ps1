<#
.SYNOPSIS
Installs docker-mlist as a Docker CLI plugin on Windows.

.DESCRIPTION
Installs into $env:DOCKER_CONFIG\cli-plugins, or %USERPROFILE%\.docker\cli-plugins
when DOCKER_CONFIG is not set, where docker.exe (Docker Desktop included) finds it.

  .\install.ps1 dist\            the build for this machine from a release
                                 directory, checked against its SHA256SUMS
  .\install.ps1 dist\docker-mlist-1.0.0-windows-amd64.exe
                                 that file, checked against the SHA256SUMS next to it
  .\install.ps1                  build from source (needs Go), then install

Running it again with the same binary changes nothing.
#>
param([string]$Path)

$ErrorActionPreference = 'Stop'

function Fail([string]$msg) {
    [Console]::Error.WriteLine("install: $msg")
    exit 1
}

# Invoke-Native runs a program with stderr discarded. Windows PowerShell 5.1
# turns a native program's stderr into errors, which 'Stop' makes fatal
# (git describe without tags, go downloading modules), so the preference is
# relaxed inside; callers check $LASTEXITCODE.
function Invoke-Native([string]$exe, [string[]]$arguments) {
    $ErrorActionPreference = 'Continue'
    try {
        & $exe @arguments 2>$null
    } catch {
        $global:LASTEXITCODE = 1
    }
}

function Get-PluginVersion([string]$exe) {
    $out = Invoke-Native $exe @('docker-cli-plugin-metadata')
    if ($LASTEXITCODE -ne 0 -or -not $out) { return $null }
    try {
        return ($out | Out-String | ConvertFrom-Json).Version
    } catch {
        return $null
    }
}

function Confirm-Checksum([string]$file) {
    $sums = Join-Path (Split-Path -Parent $file) 'SHA256SUMS'
    $name = Split-Path -Leaf $file
    if (-not (Test-Path -LiteralPath $sums -PathType Leaf)) {
        Fail "no SHA256SUMS next to ${file}: cannot verify it; not installed"
    }
    $want = $null
    foreach ($line in Get-Content -LiteralPath $sums) {
        $fields = $line -split '\s+', 2
        if ($fields.Count -eq 2 -and ($fields[1] -eq $name -or $fields[1] -eq "*$name")) {
            $want = $fields[0].ToLowerInvariant()
            break
        }
    }
    if (-not $want) { Fail "$name is not listed in $sums; not installed" }
    $got = (Get-FileHash -Algorithm SHA256 -LiteralPath $file).Hash.ToLowerInvariant()
    if ($got -ne $want) {
        Fail "checksum mismatch for ${file}: SHA256SUMS says $want, the file has $got; not installed"
    }
    Write-Output "verified $name against $sums"
}

# A 32-bit PowerShell on a 64-bit Windows reports x86 in
# PROCESSOR_ARCHITECTURE and the machine's in PROCESSOR_ARCHITEW6432.
$machine = $env:PROCESSOR_ARCHITEW6432
if (-not $machine) { $machine = $env:PROCESSOR_ARCHITECTURE }
$arch = switch ($machine) {
    'AMD64' { 'amd64' }
    'ARM64' { 'arm64' }
    default { Fail "unsupported architecture ${machine}; build from source" }
}
$suffix = "-windows-$arch.exe"

if ($Path) {
    if (Test-Path -LiteralPath $Path -PathType Container) {
        $found = @(Get-ChildItem -LiteralPath $Path -File | Where-Object { $_.Name -like "docker-mlist-*$suffix" })
        if ($found.Count -eq 0) { Fail "no build for windows-$arch in $Path (expected docker-mlist-VERSION$suffix)" }
        if ($found.Count -gt 1) { Fail "several builds for windows-$arch in ${Path}: $($found.Name -join ', '); name one" }
        $src = $found[0].FullName
    } elseif (Test-Path -LiteralPath $Path -PathType Leaf) {
        $src = (Resolve-Path -LiteralPath $Path).Path
        $leaf = Split-Path -Leaf $src
        if (-not ($leaf -like "docker-mlist-*$suffix")) { Fail "$src is not a docker-mlist build for this machine (windows-$arch)" }
    } else {
        Fail "${Path}: no such release directory or file"
    }
    Confirm-Checksum $src
} else {
    Set-Location -LiteralPath $PSScriptRoot
    if (-not (Test-Path 'cmd\docker-mlist\main.go')) { Fail 'not in a docker-mlist source tree; pass a release directory or file' }
    if (-not (Get-Command go -ErrorAction SilentlyContinue)) {
        Fail 'Go is not installed: install Go 1.26 or later, or pass a release directory (.\install.ps1 dist\)'
    }
    $version = $env:VERSION
    $commit = $null
    if (Get-Command git -ErrorAction SilentlyContinue) {
        if (-not $version) {
            $version = Invoke-Native git @('describe', '--tags', '--dirty')
            if ($LASTEXITCODE -ne 0) { $version = $null }
        }
        $commit = Invoke-Native git @('describe', '--always', '--dirty', '--abbrev=12', '--exclude=*')
        if ($LASTEXITCODE -ne 0) { $commit = $null }
    }
    if (-not $version) { $version = '0.0.0-dev' }
    $src = Join-Path $PSScriptRoot 'bin\docker-mlist.exe'
    Write-Output "building $src ($version)"
    $env:CGO_ENABLED = '0'
    $env:GOFLAGS = '-buildvcs=false'
    $ErrorActionPreference = 'Continue'
    & go build -trimpath -ldflags "-s -w -X main.version=$version -X main.commit=$commit" -tags containers_image_openpgp -o $src ./cmd/docker-mlist
    $built = $LASTEXITCODE -eq 0
    $ErrorActionPreference = 'Stop'
    if (-not $built) { Fail 'build failed' }
}

$configDir = $env:DOCKER_CONFIG
if (-not $configDir) { $configDir = Join-Path $env:USERPROFILE '.docker' }
$dir = Join-Path $configDir 'cli-plugins'
$target = Join-Path $dir 'docker-mlist.exe'

$version = Get-PluginVersion $src
if (-not $version) { Fail "$src does not run as a Docker CLI plugin on this machine; not installed" }

if ((Test-Path -LiteralPath $target -PathType Leaf) -and
    ((Get-FileHash -Algorithm SHA256 -LiteralPath $target).Hash -eq (Get-FileHash -Algorithm SHA256 -LiteralPath $src).Hash)) {
    Write-Output "docker-mlist $version is already installed at $target; nothing to do"
    exit 0
}
$old = $null
if (Test-Path -LiteralPath $target -PathType Leaf) { $old = Get-PluginVersion $target }
New-Item -ItemType Directory -Force -Path $dir | Out-Null
# Through a temporary name, so a running `docker mlist` never sees a
# half-written binary.
$tmp = Join-Path $dir '.docker-mlist.tmp'
Copy-Item -LiteralPath $src -Destination $tmp -Force
Move-Item -LiteralPath $tmp -Destination $target -Force
if ($old) {
    Write-Output "installed docker-mlist $version at $target (replacing $old)"
} else {
    Write-Output "installed docker-mlist $version at $target"
}

if (Get-Command docker -ErrorAction SilentlyContinue) {
    Invoke-Native docker @('mlist', 'version') | Out-Null
    if ($LASTEXITCODE -eq 0) {
        Write-Output 'try: docker mlist --help'
    } else {
        [Console]::Error.WriteLine("warning: docker does not run the plugin; check that $dir is the Docker CLI's config directory")
    }
} else {
    [Console]::Error.WriteLine("note: docker.exe is not in PATH; docker-mlist runs as 'docker mlist'")
}
