# El portal del cliente.
portal-nav-label = Su cuenta
portal-signed-in = Sesión iniciada como { $name } con { $company }
portal-invoices = Facturas
portal-history = Historial de pagos
portal-cards = Tarjetas y pago automático
portal-sign-out = Cerrar sesión
portal-your-invoices = Sus facturas — { $company }
portal-unavailable = Sus facturas no se pueden mostrar en línea en este momento
portal-unavailable-call = Llame a { $company } al { $phone } para ver o pagar sus facturas. Su historial de pagos y sus tarjetas guardadas siguen aquí.
portal-unavailable-contact = Comuníquese con { $company } para ver o pagar sus facturas. Su historial de pagos y sus tarjetas guardadas siguen aquí.

portal-sign-in-title = Inicie sesión en su portal de cliente
portal-sign-in-heading = Inicie sesión en su portal de cliente
portal-sign-in-heading-company = Inicie sesión en su portal de cliente de { $company }
portal-with-password = Con su contraseña
portal-email = Correo electrónico
portal-password = Contraseña
portal-sign-in = Iniciar sesión
portal-link-heading = ¿No tiene contraseña? Envíenme un enlace para iniciar sesión
portal-link-email = El correo electrónico al que le llegan sus facturas
portal-link-button = Envíenme un enlace para iniciar sesión
portal-wrong-password = Ese correo electrónico y esa contraseña no coinciden con ninguna cuenta del portal.
portal-link-sent = Si ese correo electrónico está registrado, le enviamos un enlace para iniciar sesión. Funciona una vez, durante 20 minutos.
portal-link-enter-email = Ingrese el correo electrónico al que le llegan sus facturas.
portal-too-many-sign-ins = Demasiados intentos de inicio de sesión. Espere un minuto y vuelva a intentarlo.
portal-link-title = Iniciar sesión
portal-link-once = Este enlace inicia su sesión una sola vez. Presione el botón para continuar.

portal-invite-title = Elija su contraseña — { $company }
portal-invite-heading = Elija la contraseña de su portal de cliente
portal-invite-you = Iniciará sesión con { $email } y la contraseña que elija aquí.
portal-invite-password = Contraseña (al menos 10 caracteres)
portal-invite-confirm = La misma contraseña otra vez
portal-invite-button = Guardar la contraseña e iniciar sesión
portal-invite-mismatch = La contraseña y su confirmación no coinciden.
portal-invite-not-saved = No se pudo guardar la contraseña. Vuelva a intentarlo.
portal-invite-taken = Otra cuenta de esta empresa ya usa este correo electrónico. Inicie sesión con ella o llámenos para resolverlo.

portal-history-title = Historial de pagos — { $company }
portal-statement = Estado de cuenta de las facturas abiertas (PDF)
portal-no-payments = Todavía no hay pagos.
portal-payments = Pagos
portal-col-date = Fecha
portal-col-invoices = Facturas
portal-col-paid-with = Forma de pago
portal-col-amount = Importe
portal-col-receipt = Recibo
portal-receipt-for = de { $amount } del { $date }
portal-cash = Efectivo
portal-check = Cheque
portal-check-number = Cheque { $number }
portal-status-refunded = Reembolsado
portal-status-partly-refunded = Reembolsado en parte

portal-cards-title = Tarjetas y pago automático — { $company }
portal-saved-cards = Tarjetas guardadas
portal-no-cards = No hay tarjetas guardadas.
portal-card-default = predeterminada
portal-card-autopay = usada para el pago automático
portal-make-default = Hacerla predeterminada
portal-remove-card-link = Quitar esta tarjeta
portal-add-card = Agregar una tarjeta
portal-autopay = Pago automático
portal-autopay-on-for = El pago automático está activado con { $card }. Las facturas se cobran en ella cuando vencen.
portal-autopay-turn-off = Desactivar el pago automático
portal-autopay-is-off = El pago automático está desactivado.
portal-autopay-card = Tarjeta para el pago automático
portal-autopay-turn-on = Activar el pago automático
portal-autopay-add-card = Para usar el pago automático, agregue una tarjeta arriba, o pague una factura y elija “Guardar esta tarjeta y pagar automáticamente las facturas futuras”.
portal-card-removed = Se quitó la tarjeta.
portal-card-removed-autopay = Se quitó la tarjeta. El pago automático la usaba, así que ahora está desactivado.
portal-card-saved = Se guardó su tarjeta.
portal-default-changed = Se cambió su tarjeta predeterminada.
portal-autopay-now-off = El pago automático está desactivado. Las facturas futuras no se cobrarán automáticamente.
portal-autopay-was-off = El pago automático ya estaba desactivado.
portal-autopay-now-on = El pago automático está activado con { $card }. Las facturas que venzan a partir de hoy se cobran en ella cuando vencen.
portal-choose-on-off = Elija activar o desactivar el pago automático.
portal-choose-card = Elija una tarjeta para el pago automático.

portal-add-card-title = Agregar una tarjeta — { $company }
portal-card-needs-js = Para ingresar una tarjeta debe tener JavaScript activado.
portal-card-needs-js-call = Para ingresar una tarjeta debe tener JavaScript activado, o llame al { $phone }.
portal-card-kept = El procesador de tarjetas guarda la tarjeta para pagos futuros; no se cobra ahora. El número de su tarjeta nunca llega a { $company }.
portal-save-card = Guardar la tarjeta

portal-remove-title = Quitar una tarjeta — { $company }
portal-remove-heading = ¿Quitar { $card }?
portal-remove-text = La tarjeta se quita de su cuenta y no se puede volver a usar a menos que la ingrese de nuevo.
portal-remove-autopay = El pago automático usa esta tarjeta: el pago automático se desactiva.
portal-remove-autopay-more = Las facturas futuras no se cobrarán automáticamente.
portal-remove-button = Quitar la tarjeta
portal-keep = Conservarla

# Los correos para iniciar sesión y de invitación (texto).
portal-signin-email-subject = Su enlace para iniciar sesión en { $company }
portal-signin-email-body =
    Hola, { $name }:

    Use este enlace para iniciar sesión en su portal de cliente de { $company }. Funciona una vez, durante 20 minutos:

    { $url }

    Si usted no lo pidió, puede ignorar este correo.

    { $company }
portal-invite-email-subject = Su portal de cliente de { $company }
portal-invite-email-body =
    Hola, { $name }:

    { $company } le invita a su portal de cliente, donde puede ver y pagar sus facturas, ver su historial de pagos y administrar sus tarjetas guardadas y el pago automático.

    Elija su contraseña aquí (el enlace funciona una vez, durante 7 días):

    { $url }

    Si no esperaba este correo, puede ignorarlo.

    { $company }
