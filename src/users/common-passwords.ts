/**
 * A small deny-list of the most common passwords (from public breach-frequency lists).
 * NIST SP 800-63B §5.1.1.2 asks verifiers to refuse such passwords. Two lists:
 * - COMMON: whole passwords of 8+ characters, matched case-insensitively.
 * - BASES: common words that are refused with any run of digits or symbols around them
 *   ("Password123!", "!!monkey2024"), and also repeated ("dragondragon").
 */
export const COMMON_PASSWORDS: ReadonlySet<string> = new Set(
  `12345678 123456789 1234567890 12345678910 0987654321 87654321 987654321 11111111 111111111
  00000000 000000000 22222222 55555555 66666666 77777777 88888888 99999999 12341234 11223344
  12121212 13131313 12344321 123123123 123321123 147258369 159753258 741852963 963852741
  14725836 123qweasd 1qaz2wsx 1q2w3e4r 1q2w3e4r5t 1q2w3e4r5t6y zaq12wsx qwertyuiop qwerty123
  qwerty12 qwertyui asdfghjk asdfghjkl zxcvbnm1 zxcvbnm123 qazwsxedc 1qazxsw2 q1w2e3r4 q1w2e3r4t5
  a1b2c3d4 abcd1234 abc12345 aa123456 asdf1234 password passw0rd p@ssword p@ssw0rd pa55word
  pa55w0rd password1 password12 password123 password1234 iloveyou iloveyou1 iloveyou2 sunshine
  princess football baseball basketball welcome1 welcome123 trustno1 superman batman123
  starwars whatever michelle jennifer jordan23 hunter22 computer internet corvette mercedes
  liverpool chelsea1 arsenal1 elephant butterfly chocolate cookie123 letmein1 letmein123
  changeme changeme1 changeit default1 administrator admin123 admin1234 adminadmin rootroot
  root1234 secret123 abcdefgh abcdefg1 alexander christian danielle samantha jessica1
  michael1 charlie1 maverick midnight mustang1 shadow12 master12 football1 baseball1 soccer12
  fuckyou1 fuckyou2 fuckoff1 bigdaddy blink182 spiderman pokemon1 pokemon123 minecraft
  minecraft1 nintendo playstation xbox3600 matrix123 freedom1 whatever1 qwer1234 1234qwer
  asdfasdf qweasdzxc zxcvbnma 1234abcd 12qwaszx summer2024 summer2025 summer2026 winter2024
  winter2025 winter2026 spring2025 spring2026 autumn2025 autumn2026 welcome2024 welcome2025
  welcome2026 password2024 password2025 password2026 loveyou1 lovelove 987654321a 123456789a
  a123456789 1234567a 1234567q 123456abc 123abc123 abc123abc aaaaaaaa aaaaaaaa1 asdasdasd
  qweqweqwe zzzzzzzz xxxxxxxx 123654789 1122334455 5201314520 88888888a googlegoogle
  tessera1 tessera123`
    .split(/\s+/)
    .filter((w) => w.length > 0),
);

export const COMMON_BASES: ReadonlySet<string> = new Set(
  `password passwort passw0rd pass qwerty qwertz azerty asdf asdfgh zxcvbn letmein welcome
  admin administrator root toor login master dragon monkey shadow sunshine princess football
  baseball soccer hockey iloveyou love hello hello1 freedom whatever superman batman trustno
  michael jordan charlie mustang secret changeme default guest user test tester abc abcd
  abcdef qazwsx qwer monday friday summer winter spring autumn tessera`
    .split(/\s+/)
    .filter((w) => w.length > 0),
);
