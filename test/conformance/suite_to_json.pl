#!/usr/bin/perl
# Prints fwknop's own test suite (test/tests/*.pl of a fwknop source tree) as JSON, one object per test.
#
# The suite's definitions are Perl data that refer to variables its driver (test-fwknop.pl) sets up:
# command prefixes, configuration paths (%cf), key files. This script reads the driver as text, evaluates
# its top-level variable assignments (nothing else of it runs), loads every tests/*.pl and prints the
# test hashes with function references replaced by their names. The data stays fwknop's; nothing of it
# is copied into knock.
#
# usage: suite_to_json.pl FWKNOP_TEST_DIR > suite.json
use strict;
use warnings;
use B ();
use Cwd qw(cwd);
use POSIX ();
use JSON::PP ();

my $dir = shift or die "usage: $0 FWKNOP_TEST_DIR\n";
chdir $dir or die "$0: cannot enter $dir: $!\n";

# What the driver computes at run time from the machine, fixed here so the dump is reproducible.
our $fw_conf_prefix = 'ipt';
our $fwknopCmd      = '@FWKNOP@';
our $fwknopdCmd     = '@FWKNOPD@';
our $loopback_intf  = 'lo';
our $loopback_ip    = '127.0.0.1';
our $fake_ip        = '127.0.0.2';
our $lib_view_str   = '';
our $valgrind_str   = '';
our $verbose_str    = '-v -v -v';
our $intf_str;

open my $driver, '<', 'test-fwknop.pl' or die "$0: test-fwknop.pl: $!\n";
my @lines = <$driver>;
close $driver;

# Top-level `our`/`my` statements before the suite starts importing its tests: each may span lines.
my ($statement, @statements) = ('');
for my $line (@lines) {
    last if $line =~ /^&import_test_files/;
    if ($statement eq '') {
        next unless $line =~ /^(?:our|my)\s+[\$\@%]/;
        $statement = $line;
    } else {
        $statement .= $line;
    }
    if ($line =~ /;\s*(?:#.*)?$/) {
        push @statements, $statement;
        $statement = '';
    }
}
my %fixed = map { $_ => 1 } qw(fw_conf_prefix fwknopCmd fwknopdCmd loopback_intf loopback_ip fake_ip
                               lib_view_str valgrind_str verbose_str);
no strict 'vars';
for my $s (@statements) {
    next if $s =~ /^(?:our|my)\s+\$(\w+)/ && $fixed{$1};
    (my $global = $s) =~ s/^my\s/our /;           # keep every value visible to the test files
    $global =~ s/^our\s+\((.*?)\)\s*;/our ($1);/s;
    eval "no strict; no warnings; $global";       # a statement that needs the driver's subs is skipped
}
$intf_str = "-i $loopback_intf --foreground $verbose_str";
# The strings built after %cf (client and server argument sets) refer to it: a second pass fills them.
for my $s (@statements) {
    next if $s =~ /^(?:our|my)\s+\$(\w+)/ && $fixed{$1};
    (my $global = $s) =~ s/^my\s/our /;
    eval "no strict; no warnings; $global";
}

# Data as JSON can hold it: a function by its name, a regular expression by its text.
sub plain {
    my ($v) = @_;
    my $kind = ref $v;
    return $v if $kind eq '';
    return B::svref_2object($v)->GV->NAME if $kind eq 'CODE';
    return [map { plain($_) } @$v] if $kind eq 'ARRAY';
    return {map { $_ => plain($v->{$_}) } keys %$v} if $kind eq 'HASH';
    return "$v";
}

my @out;
opendir my $tests, 'tests' or die "$0: tests/: $!\n";
for my $file (sort grep { /\.pl$/ } readdir $tests) {
    (my $array = $file) =~ s/\.pl$//;
    {
        no warnings;
        do "./tests/$file";
        die "$0: tests/$file: $@\n" if $@;
    }
    my $list = do { no strict 'refs'; \@{"main::$array"} };
    my $index = 0;
    for my $test (@$list) {
        my %copy = (file => $file, index => $index++);
        $copy{$_} = plain($test->{$_}) for keys %$test;
        push @out, \%copy;
    }
}
print JSON::PP->new->canonical->pretty->encode(\@out);
