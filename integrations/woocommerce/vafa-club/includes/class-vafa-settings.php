<?php
/**
 * WooCommerce → Vafa club: where Vafa is, which shop this store is there, and the secret that
 * signs shoppers' tokens. "Connect" starts Vafa's key exchange; once the store owner approved,
 * Vafa writes them here itself, server to server with the keys it was given, through
 * WooCommerce's settings API (PUT /wp-json/wc/v3/settings/vafa/{id}). They land in the one
 * option the settings page edits too, so either way the plugin reads the same settings.
 */

declare(strict_types=1);

final class Vafa_Settings
{
    public const OPTION = 'vafa_club_settings';
    /** The settings group Vafa writes to (WooCommerce's REST settings API). */
    public const GROUP = 'vafa';
    private const PAGE = 'vafa-club';

    /** @return array{vafa_url: string, shop_id: string, storefront_secret: string, colour: string} */
    public function get(): array
    {
        $stored = get_option(self::OPTION, []);
        return self::sanitize(is_array($stored) ? $stored : []);
    }

    public function is_configured(): bool
    {
        $s = $this->get();
        return $s['vafa_url'] !== '' && $s['shop_id'] !== '' && $s['storefront_secret'] !== '';
    }

    public function register(): void
    {
        add_action('admin_menu', [$this, 'add_page']);
        add_action('admin_init', [$this, 'register_setting']);
        // A REST request runs no admin_init: registered there too, every write is sanitized.
        add_action('rest_api_init', [$this, 'register_setting']);
        add_filter('woocommerce_settings_groups', [self::class, 'add_group']);
        add_filter('woocommerce_settings-' . self::GROUP, [self::class, 'rest_settings']);
    }

    /**
     * @param array<int, array<string, mixed>> $groups
     * @return array<int, array<string, mixed>>
     */
    public static function add_group(array $groups): array
    {
        $groups[] = [
            'id' => self::GROUP,
            'label' => __('Vafa club', 'vafa-club'),
            'description' => __('Where Vafa is and which shop this store is there; Vafa sets them when the store connects.', 'vafa-club'),
        ];
        return $groups;
    }

    /**
     * The options of the group, each a key of the one OPTION array (WooCommerce reads and
     * writes ``option_key`` [option, key] as get_option(option)[key]).
     *
     * @param array<int, array<string, mixed>> $settings
     * @return array<int, array<string, mixed>>
     */
    public static function rest_settings(array $settings): array
    {
        foreach ([
            'vafa_url' => [__('Vafa URL', 'vafa-club'), 'text'],
            'shop_id' => [__('Shop id', 'vafa-club'), 'text'],
            'storefront_secret' => [__('Storefront secret', 'vafa-club'), 'password'],
        ] as $id => [$label, $type]) {
            $settings[] = [
                'id' => $id,
                'label' => $label,
                'description' => '',
                'type' => $type,
                'default' => '',
                'option_key' => [self::OPTION, $id],
            ];
        }
        return $settings;
    }

    public function register_setting(): void
    {
        register_setting(self::PAGE, self::OPTION, [
            'type' => 'array',
            'sanitize_callback' => [self::class, 'sanitize'],
            'default' => [],
        ]);
    }

    public function add_page(): void
    {
        add_submenu_page(
            'woocommerce',
            __('Vafa club', 'vafa-club'),
            __('Vafa club', 'vafa-club'),
            'manage_woocommerce',
            self::PAGE,
            [$this, 'render']
        );
    }

    /**
     * Every field checked: a URL over http(s), a shop id of digits, a secret of letters and
     * digits, a colour as #rrggbb. Anything else is dropped, never stored half-valid.
     *
     * @param array<string, mixed> $input
     * @return array{vafa_url: string, shop_id: string, storefront_secret: string, colour: string}
     */
    public static function sanitize(array $input): array
    {
        $url = isset($input['vafa_url']) ? trim((string) $input['vafa_url']) : '';
        $scheme = strtolower((string) parse_url($url, PHP_URL_SCHEME));
        if (!in_array($scheme, ['http', 'https'], true) || parse_url($url, PHP_URL_HOST) === null) {
            $url = '';
        }
        $shop = isset($input['shop_id']) ? trim((string) $input['shop_id']) : '';
        $secret = isset($input['storefront_secret']) ? trim((string) $input['storefront_secret']) : '';
        $colour = isset($input['colour']) ? trim((string) $input['colour']) : '';
        return [
            'vafa_url' => rtrim($url, '/'),
            'shop_id' => ctype_digit($shop) ? $shop : '',
            'storefront_secret' => preg_match('/^[A-Za-z0-9]{16,128}$/', $secret) ? $secret : '',
            'colour' => preg_match('/^#[0-9a-fA-F]{6}$/', $colour) ? strtolower($colour) : '',
        ];
    }

    public function connect_url(): string
    {
        $s = $this->get();
        if ($s['vafa_url'] === '') {
            return '';
        }
        return $s['vafa_url'] . '/woocommerce/connect?store_url=' . rawurlencode(home_url());
    }

    public function render(): void
    {
        if (!current_user_can('manage_woocommerce')) {
            return;
        }
        $s = $this->get();
        $name = self::OPTION;
        echo '<div class="wrap"><h1>' . esc_html__('Vafa club', 'vafa-club') . '</h1>';
        echo '<form method="post" action="options.php">';
        settings_fields(self::PAGE); // the nonce and the option group
        echo '<table class="form-table" role="presentation">';
        foreach ([
            'vafa_url' => [__('Vafa URL', 'vafa-club'), 'url', $s['vafa_url']],
            'shop_id' => [__('Shop id', 'vafa-club'), 'text', $s['shop_id']],
            'storefront_secret' => [__('Storefront secret', 'vafa-club'), 'password', $s['storefront_secret']],
            'colour' => [__('Widget colour', 'vafa-club'), 'text', $s['colour']],
        ] as $key => [$label, $type, $value]) {
            $id = 'vafa-' . $key;
            printf(
                '<tr><th scope="row"><label for="%1$s">%2$s</label></th><td><input id="%1$s" name="%3$s[%4$s]" type="%5$s" value="%6$s" class="regular-text" autocomplete="off"></td></tr>',
                esc_attr($id),
                esc_html($label),
                esc_attr($name),
                esc_attr($key),
                esc_attr($type),
                esc_attr($value)
            );
        }
        echo '</table>';
        submit_button();
        echo '</form>';
        $connect = $this->connect_url();
        if ($connect !== '') {
            printf(
                '<p><a class="button button-primary" href="%s">%s</a> %s</p>',
                esc_url($connect),
                esc_html__('Connect this store to Vafa', 'vafa-club'),
                esc_html__('(approve on the next page; Vafa then fills in these settings itself)', 'vafa-club')
            );
        }
        echo '</div>';
    }
}
